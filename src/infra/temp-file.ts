import { randomBytes } from "node:crypto";
import fs, { type Stats } from "node:fs";
import path from "node:path";

/**
 * Writes `bytes` to a new temp file beside `target` (`.<name>.<hex>.tmp`), with the mode and
 * owner in `stats` if given, and returns its path. On failure (a full disk) nothing is left.
 */
export function writeTemp(target: string, bytes: Uint8Array, stats: Stats | undefined): string {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString("hex")}.tmp`);
  const fd = fs.openSync(temp, "wx", stats ? stats.mode & 0o7777 : 0o666);
  try {
    try {
      fs.writeFileSync(fd, bytes);
      if (stats) {
        keepOwner(fd, stats);
        // Set again: open's mode is trimmed by the umask, and chown clears set-id bits.
        fs.fchmodSync(fd, stats.mode & 0o7777);
      }
    } finally {
      fs.closeSync(fd);
    }
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
  return temp;
}

/** Replaces `target` at once (through a temp file and a rename) with `bytes`, `stats`' mode and owner. */
export function replaceFile(target: string, bytes: Uint8Array, stats: Stats): void {
  const temp = writeTemp(target, bytes, stats);
  try {
    fs.renameSync(temp, target);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/** Root gives the file back its owner; anyone else cannot, and the file becomes theirs, as when an editor saves it. */
function keepOwner(fd: number, stats: Stats): void {
  if (!process.getuid) return;
  try {
    fs.fchownSync(fd, stats.uid, stats.gid);
  } catch (error) {
    if (process.getuid() === 0 || (error as NodeJS.ErrnoException).code !== "EPERM") throw error;
  }
}

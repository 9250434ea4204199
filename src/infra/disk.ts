import { readdirSync, readFileSync, realpathSync, statSync, type Dirent } from "node:fs";
import type { Disk, EntryKind } from "../core/read-file.js";

/** The real disk behind the core's reads (core/read-file.ts says what each one promises). */
export const disk: Disk = {
  readBytes: (file) => readFileSync(file),
  readText: (file) => readFileSync(file, "utf8"),
  kindOf(file) {
    try {
      const stat = statSync(file);
      return stat.isFile() ? "file" : stat.isDirectory() ? "directory" : "other";
    } catch {
      // As existsSync: what cannot be seen (no entry, no permission, a link leading nowhere) is not there.
      return undefined;
    }
  },
  list: (dir) => readdirSync(dir, { withFileTypes: true }).map((entry) => ({ name: entry.name, kind: kindOfEntry(entry) })),
  realpath: (file) => realpathSync(file),
};

function kindOfEntry(entry: Dirent): EntryKind {
  return entry.isSymbolicLink() ? "link" : entry.isDirectory() ? "directory" : entry.isFile() ? "file" : "other";
}

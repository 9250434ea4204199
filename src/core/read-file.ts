import { PartyShardError } from "../errors.js";
import { decodeSource, describeInvalid } from "./decode-source.js";
import type { PackageFiles } from "./package-info.js";

/**
 * Reads a project file by its root-relative path; null when it does not exist. Planners read
 * through it and never touch the file system themselves (src/infra/project-reader.ts is the real one).
 */
export type ReadFile = (relativePath: string) => Promise<string | null>;

/** What a folder entry is; a link is told apart only when listing, which does not follow it. */
export type EntryKind = "file" | "directory" | "link" | "other";

/**
 * The disk as the core sees it, by absolute path: reads only, and the core's only way to the disk
 * (test/structure.test.ts fails on a node:fs import under src/core). Used where one root is not
 * enough: configs found upward, the repository the client half walks, package.json files and
 * node_modules. Synchronous, as the client half reads thousands of small files one after another
 * (faster than through the thread pool) and asks about paths inside synchronous callbacks.
 * src/infra/disk.ts is the real one.
 */
export interface Disk {
  /** A file's bytes. Throws as node's fs does: `code` ENOENT when nothing is there, EISDIR for a folder. */
  readBytes(file: string): Uint8Array;
  /** A file's text as UTF-8 (a BOM kept, as node reads it); throws as `readBytes`. */
  readText(file: string): string;
  /** What is at `file`, links followed; undefined when nothing is, or it cannot be seen (as `existsSync`). */
  kindOf(file: string): Exclude<EntryKind, "link"> | undefined;
  /** A folder's entries, in the order the system lists them; a link is listed as one, not followed. */
  list(dir: string): { name: string; kind: EntryKind }[];
  /** `file` with every link resolved; throws as node's fs does when it leads nowhere. */
  realpath(file: string): string;
}

/**
 * All a planner reads: the project's files by root-relative path, the disk around them, and
 * party-shard's own files (its templates and runtime). src/infra/project-reader.ts makes the real one.
 */
export interface ProjectReader {
  read: ReadFile;
  disk: Disk;
  own: PackageFiles;
}

/** A config's text; one that cannot be read is bad input naming it (`what`) and why. */
export function readConfigText(disk: Disk, file: string, what: string): string {
  try {
    return disk.readText(file);
  } catch (error) {
    throw new PartyShardError(`Cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`);
  }
}

/**
 * A source file's text as planners read it: UTF-8 without its BOM (the applier writes it back);
 * null when nothing is there. A file that is not UTF-8 is refused, since its text could only be
 * planned with U+FFFD in place of its bytes, and writing that back would destroy them. `shown`
 * is the path the error names.
 */
export function readSourceText(disk: Disk, file: string, shown: string): string | null {
  let bytes: Uint8Array;
  try {
    bytes = disk.readBytes(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw error;
  }
  const decoded = decodeSource(bytes);
  if (!("invalid" in decoded)) return decoded.text;
  const { line, col } = decoded.invalid;
  throw new PartyShardError(`${describeInvalid(decoded.invalid)}: party-shard reads and writes UTF-8 only, and would destroy this file's other characters.`, {
    location: { file: shown, line, col },
    hint: "Save it as UTF-8 (in most editors: Save with Encoding → UTF-8) and run again.",
  });
}

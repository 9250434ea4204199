import path from "node:path";
import type { Disk, ProjectReader, ReadFile } from "../../src/core/read-file.js";
import { disk } from "../../src/infra/disk.js";
import { packageFiles } from "../../src/infra/package-files.js";

/** The planners' reader with `read` for the project's files (often a map in memory), the real disk and party-shard's own files. */
export function readerOf(read: ReadFile): ProjectReader {
  return { read, disk, own: packageFiles };
}

/** A reader of the files in `files`, by root-relative path; any other is missing. */
export function memoryReader(files: Map<string, string> | Record<string, string>): ProjectReader {
  const get = files instanceof Map ? (file: string) => files.get(file) : (file: string) => files[file];
  return readerOf(async (file) => get(file) ?? null);
}

/**
 * A Disk holding only `files` (absolute paths to text), with their folders: no links, and what
 * is missing fails as node's fs fails (code ENOENT), so the core cannot tell it from the real one.
 */
export function memoryDisk(files: Record<string, string>): Disk {
  const texts = new Map(Object.entries(files).map(([file, text]) => [path.resolve(file), text]));
  const isDirectory = (dir: string) => [...texts.keys()].some((file) => file.startsWith(dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`));
  const missing = (file: string) => Object.assign(new Error(`ENOENT: no such file or directory, '${file}'`), { code: "ENOENT" });
  const readText = (file: string) => {
    const text = texts.get(path.resolve(file));
    if (text === undefined) throw missing(file);
    return text;
  };
  return {
    readText,
    readBytes: (file) => new TextEncoder().encode(readText(file)),
    kindOf: (file) => (texts.has(path.resolve(file)) ? "file" : isDirectory(path.resolve(file)) ? "directory" : undefined),
    list(dir) {
      if (!isDirectory(path.resolve(dir))) throw missing(dir);
      const names = new Set([...texts.keys()].filter((file) => file.startsWith(`${path.resolve(dir)}${path.sep}`)).map((file) => path.relative(path.resolve(dir), file).split(path.sep)[0]!));
      return [...names].map((name) => ({ name, kind: texts.has(path.join(path.resolve(dir), name)) ? ("file" as const) : ("directory" as const) }));
    },
    realpath(file) {
      if (texts.has(path.resolve(file)) || isDirectory(path.resolve(file))) return path.resolve(file);
      throw missing(file);
    },
  };
}

import path from "node:path";
import { findUp } from "../find-up.js";
import { readManifest, type Manifest } from "../manifest.js";
import type { Disk } from "../read-file.js";
import { LOCKFILES } from "./lockfiles.js";

const DEPENDENCY_FIELDS = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"] as const;

/** What a package uses of `name`: the version installed, where that was read, and its package.json range. */
export interface UsedVersion {
  /** The exact version, from the lockfile or else the installed package. */
  version?: string;
  /** The file it was read from, absolute: a lockfile, or node_modules/<name>/package.json. */
  from?: string;
  /** The range package.json gives it, and the package.json (absolute) and field that give it. */
  range?: { spec: string; manifest: string; field: (typeof DEPENDENCY_FIELDS)[number] };
}

/**
 * The version of `name` the package in `packageDir` uses: its lockfile's entry (the nearest
 * lockfile at or above the folder, for this package), else the copy node would load
 * (`node_modules/<name>/package.json`, found upward; only that one file is read, node_modules is
 * never walked), and, beside either, the range its package.json gives (else the one of the
 * package.json beside the lockfile, where a workspace's shared dependencies are listed).
 */
export function readUsedVersion(disk: Disk, packageDir: string, name: string): UsedVersion {
  const manifest = readManifest(disk, packageDir);
  const lock = nearestLockfile(disk, packageDir);
  const range = rangeIn(manifest, packageDir, name) ?? (lock && lock.dir !== packageDir ? rangeIn(readManifest(disk, lock.dir), lock.dir, name) : undefined);
  if (lock) {
    const text = readText(disk, lock.file);
    const importer = path.relative(lock.dir, packageDir).split(path.sep).join("/") || ".";
    const packageName = typeof manifest?.name === "string" ? manifest.name : undefined;
    const version = text === undefined ? undefined : lock.read(text, { importer, name, range: range?.spec, packageName });
    if (version) return { version, from: lock.file, range };
  }
  const installed = findUp(disk, packageDir, path.join("node_modules", name, "package.json"), "file");
  const version = installed ? versionOf(readText(disk, installed)) : undefined;
  return version ? { version, from: installed, range } : { range };
}

function nearestLockfile(disk: Disk, from: string) {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    for (const lockfile of LOCKFILES) {
      const file = path.join(dir, lockfile.file);
      if (disk.kindOf(file) === "file") return { dir, file, read: lockfile.read };
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

function rangeIn(manifest: Manifest | undefined, dir: string, name: string): UsedVersion["range"] {
  for (const field of DEPENDENCY_FIELDS) {
    const spec = manifest?.[field]?.[name];
    if (typeof spec === "string") return { spec, manifest: path.join(dir, "package.json"), field };
  }
  return undefined;
}

function readText(disk: Disk, file: string): string | undefined {
  try {
    return disk.readText(file);
  } catch {
    return undefined;
  }
}

function versionOf(text: string | undefined): string | undefined {
  try {
    const version: unknown = (JSON.parse(text ?? "") as { version?: unknown }).version;
    return typeof version === "string" ? version : undefined;
  } catch {
    return undefined;
  }
}

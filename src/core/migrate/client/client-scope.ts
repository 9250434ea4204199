import os from "node:os";
import path from "node:path";
import { escapeRegExp } from "../../escape-regexp.js";
import { readManifest } from "../../manifest.js";
import type { Disk } from "../../read-file.js";

/** Where client code is looked for: the repository around the PartyKit config, or the folders --client names. */
export interface ClientScope {
  /** The folder every path in the plan is relative to; nothing is written outside it. */
  root: string;
  /** The folders walked for client source (the root itself unless --client narrows or adds). */
  dirs: string[];
  /** The PartyKit config's folder: another folder with a config of its own is another app. */
  configRoot: string;
  /** Workspace packages by name, with their folders: imports of them resolve there, installed or not. */
  workspace: Map<string, string>;
}

/**
 * The scope for a config in `configRoot`: the repository it lives in (the nearest folder with
 * `.git`, `pnpm-workspace.yaml` or package.json `workspaces`, else the highest folder with a
 * package.json below the home folder), so a client beside the server (`client/`, `apps/web`)
 * is found. `clientDirs` (absolute) replace the folders walked; the root grows to hold them.
 */
export function clientScope(disk: Disk, configRoot: string, clientDirs: string[] = []): ClientScope {
  const repository = repositoryRoot(disk, configRoot);
  const dirs = clientDirs.length > 0 ? clientDirs.map((dir) => disk.realpath(dir)) : [repository];
  const root = commonAncestor([repository, ...dirs]);
  return { root, dirs, configRoot: path.resolve(configRoot), workspace: workspacePackages(disk, repository) };
}

function repositoryRoot(disk: Disk, configRoot: string): string {
  const has = (dir: string, name: string) => disk.kindOf(path.join(dir, name)) !== undefined;
  const home = os.homedir();
  let highestPackage: string | undefined;
  for (let dir = path.resolve(configRoot); ; dir = path.dirname(dir)) {
    if (dir === home || path.dirname(dir) === dir) break;
    if (has(dir, ".git") || has(dir, "pnpm-workspace.yaml") || readManifest(disk, dir)?.workspaces) return dir;
    if (has(dir, "package.json")) highestPackage = dir;
  }
  return highestPackage ?? path.resolve(configRoot);
}

/** package.json `workspaces` (array or `{ packages }`) and pnpm-workspace.yaml `packages`, globs expanded. */
function workspacePackages(disk: Disk, root: string): Map<string, string> {
  const workspaces = readManifest(disk, root)?.workspaces;
  const patterns = [
    ...(Array.isArray(workspaces) ? workspaces : []),
    ...(isRecord(workspaces) && Array.isArray(workspaces.packages) ? workspaces.packages : []),
    ...pnpmPackages(disk, root),
  ].filter((pattern): pattern is string => typeof pattern === "string" && !pattern.startsWith("!"));
  const found = new Map<string, string>();
  for (const dir of patterns.flatMap((pattern) => expand(disk, root, pattern))) {
    const name = readManifest(disk, dir)?.name;
    if (typeof name === "string" && !found.has(name)) found.set(name, dir);
  }
  return found;
}

/** The `packages:` list of pnpm-workspace.yaml: a flat list of quoted or bare globs is all it holds. */
function pnpmPackages(disk: Disk, root: string): string[] {
  const file = path.join(root, "pnpm-workspace.yaml");
  if (disk.kindOf(file) === undefined) return [];
  const lines = disk.readText(file).split(/\r?\n/);
  const start = lines.findIndex((line) => /^packages\s*:/.test(line));
  if (start < 0) return [];
  const patterns: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const item = /^\s+-\s*["']?([^"'#]+?)["']?\s*(#.*)?$/.exec(line);
    if (item) patterns.push(item[1]!);
    else if (/^\S/.test(line)) break;
  }
  return patterns;
}

/** `apps/*`, `packages/**`, `tools/cli`: folders only, never node_modules. */
function expand(disk: Disk, root: string, pattern: string): string[] {
  const segments = pattern.replace(/^\.\//, "").replace(/\/$/, "").split("/");
  let dirs = [root];
  for (const segment of segments) {
    if (segment === "**") dirs = dirs.flatMap((dir) => [dir, ...subfolders(disk, dir, true)]);
    else if (segment.includes("*")) {
      const matcher = new RegExp(`^${segment.split("*").map(escapeRegExp).join("[^/]*")}$`);
      dirs = dirs.flatMap((dir) => subfolders(disk, dir, false).filter((sub) => matcher.test(path.basename(sub))));
    } else dirs = dirs.map((dir) => path.join(dir, segment)).filter((dir) => disk.kindOf(dir) === "directory");
  }
  return dirs.filter((dir) => disk.kindOf(path.join(dir, "package.json")) !== undefined);
}

function subfolders(disk: Disk, dir: string, deep: boolean): string[] {
  const found: string[] = [];
  for (const entry of disk.list(dir)) {
    if (entry.kind !== "directory" || entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const full = path.join(dir, entry.name);
    found.push(full, ...(deep ? subfolders(disk, full, true) : []));
  }
  return found;
}

function commonAncestor(dirs: string[]): string {
  let common = path.resolve(dirs[0]!);
  for (const dir of dirs) {
    while (!`${path.resolve(dir)}${path.sep}`.startsWith(`${common === path.sep ? "" : common}${path.sep}`)) common = path.dirname(common);
  }
  return common;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}


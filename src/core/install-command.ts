import { findUp } from "./find-up.js";
import type { Disk } from "./read-file.js";

const LOCKFILES: [string, string][] = [
  ["pnpm-lock.yaml", "pnpm add"],
  ["yarn.lock", "yarn add"],
  ["bun.lockb", "bun add"],
  ["bun.lock", "bun add"],
  ["package-lock.json", "npm install"],
];

/**
 * The command that adds `spec` with the package manager a package uses: the one its
 * package.json declares, else the one whose lockfile is in `dir` or above (a workspace
 * package's lockfile is the repository's), else npm. With no spec, the install command.
 */
export function installCommand(disk: Disk, dir: string, manifest: { packageManager?: unknown }, spec?: string): string {
  const declared = typeof manifest.packageManager === "string" ? manifest.packageManager.split("@")[0] : undefined;
  const add =
    (declared && LOCKFILES.find(([, command]) => command.startsWith(declared))?.[1]) ??
    LOCKFILES.find(([lockfile]) => findUp(disk, dir, lockfile) !== undefined)?.[1] ??
    "npm install";
  return spec ? `${add} ${spec}` : `${add.split(" ")[0]} install`;
}

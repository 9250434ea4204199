import JSON5 from "json5";
import type { LockQuery } from "./lock-query.js";
import { pnpmLockVersion } from "./pnpm-lock.js";
import { yarnLockVersion } from "./yarn-lock.js";

/**
 * The lockfiles read, each with its reader. bun.lockb (binary) is not: without a text lockfile
 * the installed copy tells. The upgrade command's package manager is install-command.ts's to tell.
 */
export const LOCKFILES = [
  { file: "package-lock.json", read: npmLockVersion },
  { file: "npm-shrinkwrap.json", read: npmLockVersion },
  { file: "pnpm-lock.yaml", read: pnpmLockVersion },
  { file: "yarn.lock", read: yarnLockVersion },
  { file: "bun.lock", read: bunLockVersion },
] as const;

/**
 * package-lock.json 2 and 3 (`packages`, keyed by install path): the copy node would load from
 * the importer's folder, its own node_modules first, then each folder above; a workspace link is
 * followed to its folder. Lockfile 1 (`dependencies`) is read for the root only.
 */
function npmLockVersion(text: string, { importer, name }: LockQuery): string | undefined {
  const lock = parseJson(text, JSON.parse) as { packages?: Record<string, { version?: unknown; resolved?: unknown; link?: unknown }>; dependencies?: Record<string, { version?: unknown }> } | undefined;
  if (!lock) return undefined;
  if (lock.packages) {
    const parts = importer === "." ? [] : importer.split("/");
    for (let depth = parts.length; depth >= 0; depth--) {
      const key = [...parts.slice(0, depth), "node_modules", name].join("/");
      let entry = lock.packages[key];
      if (entry?.link === true && typeof entry.resolved === "string") entry = lock.packages[entry.resolved];
      if (entry) return semverOrUndefined(entry.version);
    }
    return undefined;
  }
  return importer === "." ? semverOrUndefined(lock.dependencies?.[name]?.version) : undefined;
}

/**
 * bun.lock (bun 1.2's text lockfile, JSON with trailing commas): `packages` maps a name to
 * `["name@version", …]`; a workspace's own copy, where it differs from the root's, is keyed
 * `<workspace name>/<name>`.
 */
function bunLockVersion(text: string, { name, packageName }: LockQuery): string | undefined {
  const lock = parseJson(text, JSON5.parse) as { packages?: Record<string, unknown> } | undefined;
  const entry = (packageName !== undefined ? lock?.packages?.[`${packageName}/${name}`] : undefined) ?? lock?.packages?.[name];
  if (!Array.isArray(entry) || typeof entry[0] !== "string") return undefined;
  return semverOrUndefined(entry[0].slice(entry[0].lastIndexOf("@") + 1));
}

function parseJson(text: string, parse: (text: string) => unknown): unknown {
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

function semverOrUndefined(version: unknown): string | undefined {
  return typeof version === "string" && /^\d+\.\d+\.\d+/.test(version) ? version : undefined;
}

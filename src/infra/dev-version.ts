import { readFileSync } from "node:fs";
import path from "node:path";
import { findUp } from "../core/find-up.js";
import { readManifest } from "../core/manifest.js";
import { installCommand } from "../core/install-command.js";
import { compareVersions } from "../core/versions/semver.js";
import { disk } from "./disk.js";
import { PartyShardError } from "../errors.js";

/**
 * The oldest dev servers that take every flag verify passes. Read from each package's CLI
 * source in its npm tarball (2026-12):
 *  - partykit: `--no-hotkeys` first appears in 0.0.114 (0.0.112 lacks it; 0.0.29 also lacks
 *    `--disable-request-cf-fetch`, which came in 0.0.93). Older ones stop at once with
 *    "error: unknown option '--no-hotkeys'".
 *  - wrangler: `--persist-to` and `--log-level` are in 3.0.0, not in 2.0.0 (`--ip`, `--port`,
 *    `--inspector-port`, `--config` are in both); the 2.x releases between were not read.
 */
export const MINIMUM_DEV_VERSIONS = { partykit: "0.0.114", wrangler: "3.0.0" } as const;

type DevPackage = keyof typeof MINIMUM_DEV_VERSIONS;

/**
 * Refuses, as bad input naming both versions and the upgrade, a dev server older than verify
 * needs, before anything is started. A version that cannot be read is let through: the server's
 * own error then says what is wrong.
 */
export function refuseOldDevServer(name: DevPackage, projectRoot: string, cwd: string): void {
  const manifestFile = findUp(disk, cwd, path.join("node_modules", name, "package.json"));
  const found = manifestFile ? readVersion(manifestFile) : undefined;
  const needed = MINIMUM_DEV_VERSIONS[name];
  // partykit's canaries are all 0.0.0-<commit>: their age cannot be told from the version.
  if (!found || found.startsWith("0.0.0-") || compareVersions(found, needed) >= 0) return;
  const upgrade = installCommand(disk, projectRoot, readManifest(disk, projectRoot) ?? {}, `-D ${name}@latest`);
  throw new PartyShardError(`${name} ${found} is too old for verify: it needs ${name} ${needed} or later (the flags verify starts it with).`, {
    hint: `Run \`${upgrade}\` in ${projectRoot}.`,
  });
}

function readVersion(file: string): string | undefined {
  try {
    const version: unknown = (JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version;
    return typeof version === "string" ? version : undefined;
  } catch {
    return undefined;
  }
}

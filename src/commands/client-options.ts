import { statSync } from "node:fs";
import path from "node:path";
import { Option } from "commander";
import { PartyShardError } from "../errors.js";
import type { WritesMode } from "../core/migrate/client/plan-client.js";

/** What migrate and check scan and expect of client code, parsed once from their flags. */
export interface ClientOptions {
  writes: WritesMode;
  /** Absolute folders to scan; empty: the whole repository around the config. */
  clientDirs: string[];
}

const WRITES_MODES: readonly WritesMode[] = ["routed", "socket"];

/** `--client`, the same for migrate and check, so check scans what migrate changed. */
export function clientOption(): Option {
  return new Option("--client <dir>", "look for client code in this folder only (repeatable)")
    .argParser((dir: string, dirs: string[]) => [...dirs, dir])
    .default([], "the whole repository around the config");
}

/** Checked before anything is loaded or read, so a typo fails fast (exit 2). */
export function parseClientOptions(raw: Record<string, unknown>, cwd: string): ClientOptions {
  const writes = WRITES_MODES.find((known) => known === raw.writes);
  if (!writes) throw new PartyShardError(`--writes must be one of ${WRITES_MODES.join(", ")}; got "${String(raw.writes)}".`);
  return { writes, clientDirs: clientFolders(raw.client, cwd) };
}

/** The `--client` folders, resolved from --cwd: each must be a folder, or nothing is read. */
function clientFolders(value: unknown, cwd: string): string[] {
  return (Array.isArray(value) ? value.map(String) : []).map((dir) => {
    const resolved = path.resolve(cwd, dir);
    if (!statSync(resolved, { throwIfNoEntry: false })?.isDirectory()) {
      throw new PartyShardError(`--client ${dir} is not a folder (${resolved}).`, { hint: "Pass the folder that holds client code, e.g. --client web or --client apps/web/src." });
    }
    return resolved;
  });
}

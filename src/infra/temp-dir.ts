import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export interface TempDir {
  path: string;
  /** Removes the folder and all in it; symlinks inside are unlinked, never followed. */
  remove(): void;
}

/** A new folder `party-shard-<name>-XXXXXX` under the system temp dir. */
export function makeTempDir(name: string): TempDir {
  const dir = mkdtempSync(path.join(os.tmpdir(), `party-shard-${name}-`));
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

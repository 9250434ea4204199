import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const made: string[] = [];

/**
 * A new folder under the system temp dir, removed when this test process exits (passed or
 * failed). Removal never follows a symlink, so a project's node_modules link to this
 * repository's is unlinked, not emptied.
 */
export function tempDir(name: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `party-shard-${name}-`));
  made.push(dir);
  return dir;
}

process.on("exit", () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

import { makeTempDir, type TempDir } from "../../src/infra/temp-dir.js";

const made: TempDir[] = [];

/**
 * A new folder under the system temp dir, removed when this test process exits (passed or
 * failed). Removal never follows a symlink, so a project's node_modules link to this
 * repository's is unlinked, not emptied.
 */
export function tempDir(name: string): string {
  const dir = makeTempDir(name);
  made.push(dir);
  return dir.path;
}

process.on("exit", () => {
  for (const dir of made) dir.remove();
});

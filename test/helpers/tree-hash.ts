import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * sha256 over every folder and file under `dir` (path, then contents), in sorted order, so
 * one hash proves a command created, changed and removed nothing. node_modules is skipped, and
 * so is .git/index: `git status` may refresh git's own stat cache without any change to the project.
 */
export function treeHash(dir: string): string {
  const hash = createHash("sha256");
  const walk = (relative: string) => {
    const entries = readdirSync(path.join(dir, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      const file = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.name === "node_modules" || file === ".git/index") continue;
      if (entry.isDirectory()) {
        hash.update(`dir ${file}\0`);
        walk(file);
      } else {
        hash.update(`file ${file}\0`).update(readFileSync(path.join(dir, file))).update("\0");
      }
    }
  };
  walk("");
  return hash.digest("hex");
}

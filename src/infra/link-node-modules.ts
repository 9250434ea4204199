import { mkdirSync, readdirSync, symlinkSync } from "node:fs";
import path from "node:path";

/**
 * Gives `app` (a copy of an example or a fixture) the packages of the party-shard checkout at
 * `repo` without installing anything: `app/node_modules` links to each of the checkout's packages,
 * and `party-shard` links to the checkout itself, where `npm install party-shard` would put the
 * package (the generated files import `party-shard/partykit`, `party-shard/client`, …).
 */
export function linkNodeModules(app: string, repo: string): void {
  const from = path.join(repo, "node_modules");
  const to = path.join(app, "node_modules");
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from)) {
    if (entry === "party-shard" || (entry.startsWith(".") && entry !== ".bin")) continue;
    symlinkSync(path.join(from, entry), path.join(to, entry), "dir");
  }
  symlinkSync(repo, path.join(to, "party-shard"), "dir");
}

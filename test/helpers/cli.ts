import { cpSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { tempDir } from "./temp.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";

export const REPO = path.resolve(import.meta.dirname, "..", "..");
export const CLI = path.join(REPO, "bin", "party-shard.js");
export const PARTYKIT_BIN = path.join(REPO, "node_modules", ".bin", "partykit");
export const FIXTURES = path.join(REPO, "test", "fixtures");

/** Runs the built CLI as a user would, without a terminal. */
export function runCli(args: string[], cwd: string, env: Record<string, string> = {}) {
  return execa(process.execPath, [CLI, ...args], {
    cwd,
    env: { CI: "true", FORCE_COLOR: "0", NO_COLOR: "1", ...env },
    stdin: "ignore",
    reject: false,
  });
}

/** A fresh temp copy of `test/fixtures/projects/<name>`. */
export function copyProject(name: string): string {
  const dir = tempDir(name);
  cpSync(path.join(FIXTURES, "projects", name), dir, { recursive: true });
  linkNodeModules(dir, REPO);
  return dir;
}

/**
 * Every file under `dir` with its contents, to prove a command wrote nothing. A symlink is
 * recorded by its target and never followed: a project's node_modules link points at this
 * repository's, and reading that costs seconds a call.
 */
export function snapshotTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const relative = path.relative(dir, full);
      if (entry.isSymbolicLink()) files[relative] = `symlink -> ${readlinkSync(full)}`;
      else if (entry.isDirectory()) walk(full);
      else files[relative] = readFileSync(full, "utf8");
    }
  };
  walk(dir);
  return files;
}

/** A temp project made of the given files (paths relative to its root). */
export function makeProject(files: Record<string, string>): string {
  const dir = tempDir("project");
  for (const [file, contents] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), contents);
  }
  // What the generated files import (party-shard/partykit, …) resolves as in an installed app.
  linkNodeModules(dir, REPO);
  return dir;
}

/**
 * A temp copy of a bundled demo app (the PartyKit chat, or "demo-partyserver-chat"), able to
 * resolve its packages (partykit or wrangler and partyserver, partysocket) from this repo.
 */
export function copyDemoApp(app: "demo-chat" | "demo-partyserver-chat" = "demo-chat"): string {
  const dir = tempDir("demo");
  cpSync(path.join(REPO, "templates", app), dir, { recursive: true });
  linkNodeModules(dir, REPO);
  return dir;
}

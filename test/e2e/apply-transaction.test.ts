import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs, { chmodSync, chownSync, cpSync, mkdirSync, readdirSync, readFileSync, statSync, watch, writeFileSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { before, describe, it } from "node:test";
import { execa, type Result } from "execa";
import type { InterruptedError } from "../../src/errors.js";
import { applyPlan } from "../../src/infra/apply-plan.js";
import { CLI, REPO, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";

// Few client files, so planning is short; the hooks' slowdown makes applying them take a while.
const CLIENT_FILES = 60;
const HOOKS = path.join(REPO, "test", "helpers", "apply-hooks.mjs");
const ENV = { CI: "true", FORCE_COLOR: "0", NO_COLOR: "1" };
const AS_ROOT = process.getuid?.() === 0;
// Replaced by migrate, so their mode and owner must survive it, and survive being put back.
const PARTY = "party/server.ts";
const OWNED = "src/d0/c1.ts";

/** Every folder, and every file's bytes, mode and owner, under `dir` (never .git or node_modules). */
function snapshot(dir: string): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(dir, relative), { withFileTypes: true })) {
      if (entry.name === ".git" || entry.name === "node_modules") continue;
      const file = path.posix.join(relative, entry.name);
      const { mode, uid, gid } = statSync(path.join(dir, file));
      if (entry.isDirectory()) {
        found[`${file}/`] = "folder";
        walk(file);
      } else {
        found[file] = `${createHash("sha256").update(readFileSync(path.join(dir, file))).digest("hex").slice(0, 16)} ${mode.toString(8)} ${uid}:${gid}`;
      }
    }
  };
  walk("");
  return found;
}

const temps = (tree: Record<string, string>) => Object.keys(tree).filter((file) => /(^|\/)\.[^/]+\.[0-9a-f]{8}\.tmp$/.test(file));

/** A git repository with a party and CLIENT_FILES socket files, after `init`, all committed. */
async function generateProject(): Promise<string> {
  const root = tempDir("transaction-base");
  mkdirSync(path.join(root, "party"));
  writeFileSync(path.join(root, "partykit.json"), JSON.stringify({ name: "transaction", main: PARTY }));
  writeFileSync(path.join(root, PARTY), `import type * as Party from "partykit/server";\n\nexport default class Server implements Party.Server {\n  constructor(readonly room: Party.Room) {}\n  onMessage(message: string) {\n    this.room.broadcast(message);\n  }\n}\n`);
  chmodSync(path.join(root, PARTY), 0o750);
  for (let i = 0; i < CLIENT_FILES; i++) {
    const file = path.join(root, "src", `d${Math.floor(i / 50)}`, `c${i}.ts`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `import PartySocket from "partysocket";\n\nconst socket = new PartySocket({ host: "localhost:1999", room: "r${i}" });\nexport function say${i}(text: string) {\n  socket.send(text);\n}\n`);
  }
  chmodSync(path.join(root, OWNED), 0o640);
  writeFileSync(path.join(root, ".gitignore"), "node_modules\n");
  linkNodeModules(root, REPO);
  const init = await runCli(["init", "--yes"], root);
  assert.equal(init.exitCode, 0, init.stderr);
  const git = (...args: string[]) => execa("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", ...args], { cwd: root });
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-qm", "base");
  return root;
}

/** A fresh copy of the project; as root, one client file gets another owner (a copy does not keep owners). */
function copyOf(base: string): string {
  const dir = tempDir("transaction");
  cpSync(base, dir, { recursive: true, verbatimSymlinks: true });
  if (AS_ROOT) chownSync(path.join(dir, OWNED), 1234, 2345);
  return dir;
}

/**
 * `migrate --yes` on the built CLI with test/helpers/apply-hooks.mjs preloaded; `signals` go
 * out 5 ms apart once `when` comes: ms after the start, or a moment the hooks announce. (The
 * hooks make each step of applying take longer than that, so a second signal lands before
 * the first one's rollback ends.)
 */
async function migrateInterrupted(dir: string, signals: NodeJS.Signals[], when: number | "staging" | "renaming", hooks = "slowMs=8"): Promise<Result> {
  const child = execa(process.execPath, ["--import", HOOKS, CLI, "migrate", "--yes"], { cwd: dir, env: { ...ENV, APPLY_HOOKS: hooks }, stdin: "ignore", reject: false });
  const send = () => signals.forEach((signal, index) => setTimeout(() => child.kill(signal), index * 5));
  if (typeof when === "number") {
    setTimeout(send, when);
  } else {
    let said = "";
    child.stderr.on("data", (chunk: Buffer) => {
      if (!said.includes(when) && (said += chunk.toString()).includes(when)) send();
    });
  }
  const result = await child;
  if (typeof when === "string" && !result.stderr.includes(`apply-hooks: ${when}`)) {
    assert.fail(`The hooks never saw the applier reach "${when}": do they patch the fs calls src/infra/apply-plan.ts makes?\n${result.stderr}`);
  }
  return result;
}

/** Every client file routed, the party wrapped, and every file that was there kept its mode and owner. */
function assertMigrated(dir: string, before: Record<string, string>): void {
  const now = snapshot(dir);
  assert.deepEqual(temps(now), []);
  for (let i = 0; i < CLIENT_FILES; i++) {
    assert.match(readFileSync(path.join(dir, "src", `d${Math.floor(i / 50)}`, `c${i}.ts`), "utf8"), /sendViaRouter\(socket, text\)/);
  }
  assert.match(readFileSync(path.join(dir, PARTY), "utf8"), /export default sharded\(Server\);/);
  for (const [file, entry] of Object.entries(before)) assert.equal(now[file]?.split(" ").slice(1).join(" "), entry.split(" ").slice(1).join(" "), `mode or owner of ${file}`);
}

/** Interrupted mid-apply: the exit code for the signal, the tree as it was, nothing left over, nothing for git to show. */
async function assertRolledBack(dir: string, before: Record<string, string>, result: Result, exitCode: number): Promise<void> {
  assert.equal(result.exitCode, exitCode, `${result.signal ?? ""} ${result.stderr}`);
  const now = snapshot(dir);
  assert.deepEqual(temps(now), []);
  assert.deepEqual(now, before);
  assert.equal((await execa("git", ["status", "--porcelain"], { cwd: dir })).stdout, "");
}

describe("migrate is a transaction (built CLI, signals)", () => {
  let base: string;
  let original: Record<string, string>;
  before(async () => {
    base = await generateProject();
    original = snapshot(copyOf(base));
  });

  it("SIGINT while staging: exit 130, every file as before, no temp file", async () => {
    const dir = copyOf(base);
    const result = await migrateInterrupted(dir, ["SIGINT"], "staging");
    await assertRolledBack(dir, original, result, 130);
    assert.match(result.stderr, /Interrupted by SIGINT; nothing was written\./);
  });

  it("SIGINT twice while renaming (the party already patched): exit 130, all put back with mode and owner; the next run is not refused and completes", async () => {
    const dir = copyOf(base);
    const result = await migrateInterrupted(dir, ["SIGINT", "SIGINT"], "renaming");
    await assertRolledBack(dir, original, result, 130);
    const again = await runCli(["migrate", "--yes"], dir);
    assert.equal(again.exitCode, 0, again.stderr);
    assertMigrated(dir, original);
  });

  it("SIGTERM while staging: exit 143, every file as before", async () => {
    const dir = copyOf(base);
    const result = await migrateInterrupted(dir, ["SIGTERM"], "staging");
    await assertRolledBack(dir, original, result, 143);
  });

  it("SIGINT when the first temp file appears, without hooks: exit 130 and the tree as before, or exit 0 and fully migrated", async () => {
    const dir = copyOf(base);
    const child = execa(process.execPath, [CLI, "migrate", "--yes"], { cwd: dir, env: ENV, stdin: "ignore", reject: false });
    // The server half is staged first, in party/. One signal: a second could land after the exit code is set.
    const watcher = watch(path.join(dir, "party"), (_, name) => {
      if (name?.endsWith(".tmp") && !child.killed) child.kill("SIGINT");
    });
    const result = await child.finally(() => watcher.close());
    assert.ok(result.exitCode === 130 || result.exitCode === 0, `exit ${result.exitCode} ${result.signal}: ${result.stderr}`);
    if (result.exitCode === 0) assertMigrated(dir, original);
    else assert.deepEqual(snapshot(dir), original);
  });

  for (const ms of [50, 200, 600]) {
    it(`SIGINT ${ms} ms after the start: the tree as before (or, had it finished, fully migrated), no temp file`, async () => {
      const dir = copyOf(base);
      const result = await migrateInterrupted(dir, ["SIGINT"], ms);
      const now = snapshot(dir);
      assert.deepEqual(temps(now), []);
      // Before applying, SIGINT has its default effect: the shell reports 130 all the same.
      const stopped = result.exitCode === 130 || result.signal === "SIGINT";
      assert.ok(stopped || result.exitCode === 0, `exit ${result.exitCode} ${result.signal}: ${result.stderr}`);
      if (result.exitCode === 0 || (result.signal && !isDeepStrictEqual(now, original))) assertMigrated(dir, original);
      else assert.deepEqual(now, original);
    });
  }

  it("a full disk while staging: exit 1, says so and that nothing changed; no half-written temp file", async () => {
    const dir = copyOf(base);
    const result = await migrateInterrupted(dir, [], 0, "enospcAt=40");
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stderr, /Could not write src\/\S+\.ts: ENOSPC: no space left on device/);
    assert.match(result.stderr, /The disk is full/);
    assert.match(result.stderr, /Nothing was changed/);
    assert.deepEqual(snapshot(dir), original);
  });
});

describe("applyPlan rolls back what it renamed (library, a failing rename)", () => {
  function project() {
    const root = tempDir("apply");
    writeFileSync(path.join(root, "a.ts"), "export const a = 1;\n", { mode: 0o640 });
    writeFileSync(path.join(root, "b.ts"), "export const b = 1;\n", { mode: 0o755 });
    chmodSync(path.join(root, "b.ts"), 0o755);
    if (AS_ROOT) chownSync(path.join(root, "a.ts"), 1234, 2345);
    const plan = {
      root,
      findings: [],
      changes: [
        { path: "a.ts", before: "export const a = 1;\n", after: "export const a = 2;\n" },
        { path: "new/dir/c.ts", before: null, after: "export const c = 1;\n" },
        { path: "b.ts", before: "export const b = 1;\n", after: "export const b = 2;\n" },
      ],
    };
    return { root, plan };
  }

  it("puts back the bytes, mode and owner of replaced files, removes created files and folders", async (t) => {
    const { root, plan } = project();
    const before = snapshot(root);
    const rename = fs.renameSync;
    let renames = 0;
    t.mock.method(fs, "renameSync", (from: string, to: string) => {
      if (++renames === 3) throw Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" });
      rename(from, to);
    });
    await assert.rejects(applyPlan(plan), (error: Error & { hint?: string }) => {
      assert.match(error.message, /^Could not write b\.ts: EIO/);
      assert.match(error.hint ?? "", /^Nothing was changed/);
      return true;
    });
    assert.deepEqual(snapshot(root), before);
  });

  it("SIGHUP (a closed terminal) while renaming: exit code 129, every file put back", async (t) => {
    const { root, plan } = project();
    const before = snapshot(root);
    const rename = fs.renameSync;
    let renames = 0;
    t.mock.method(fs, "renameSync", (from: string, to: string) => {
      // Seen between two files: after this rename, or the next.
      if (++renames === 1) process.kill(process.pid, "SIGHUP");
      rename(from, to);
    });
    plan.changes.push(...["d.ts", "e.ts", "f.ts"].map((file) => ({ path: file, before: null, after: "export {};\n" })));
    await assert.rejects(applyPlan(plan), (error: InterruptedError) => {
      assert.equal(error.message, "Interrupted by SIGHUP; nothing was written.");
      assert.equal(error.exitCode, 129);
      return true;
    });
    assert.deepEqual(snapshot(root), before);
  });

  it("names a file it could not put back, instead of claiming nothing changed", async (t) => {
    const { root, plan } = project();
    const rename = fs.renameSync;
    let renames = 0;
    t.mock.method(fs, "renameSync", (from: string, to: string) => {
      renames++;
      // The second rename fails, and so does putting a.ts back.
      if (renames === 2 || (renames > 2 && to.endsWith("a.ts"))) throw Object.assign(new Error("EACCES: permission denied, rename"), { code: "EACCES" });
      rename(from, to);
    });
    await assert.rejects(applyPlan(plan), /Could not write new\/dir\/c\.ts: EACCES.*; and these could not be put back as they were: a\.ts \(EACCES\)/);
    assert.equal(readFileSync(path.join(root, "a.ts"), "utf8"), "export const a = 2;\n");
    assert.deepEqual(temps(snapshot(root)), []);
  });
});

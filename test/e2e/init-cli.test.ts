import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { editedSinceGenerated } from "../../src/core/render-template.js";
import { makeProject, runCli, snapshotTree } from "../helpers/cli.js";

const CONFIG = `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`;
// A party with a WebSocket handler: init refuses one without (see choose-party.ts).
const SERVER = "export default class Server {\n  onMessage() {}\n}\n";
const app = (extra: Record<string, string> = {}) => makeProject({ "partykit.json": CONFIG, "src/server.ts": SERVER, ...extra });

describe("party-shard init (built CLI, no TTY)", () => {
  it("--dry-run prints a unified diff and writes nothing", async () => {
    const dir = app();
    const before = snapshotTree(dir);
    const result = await runCli(["init", "--dry-run"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /--- a\/partykit\.json\n\+\+\+ b\/partykit\.json/);
    assert.match(result.stdout, /\+  "parties": \{\n\+    "router": "src\/router\.ts"\n\+  \}/);
    assert.match(result.stdout, /^\+ src\/router\.ts \(generated, \d+ lines; --verbose shows it\)$/m);
    assert.match(result.stdout, /would create src\/router\.ts/);
    assert.deepEqual(snapshotTree(dir), before);
  });

  it("writes the config entry and the router, then a re-run is a no-op that says so", async () => {
    const dir = app();
    const first = await runCli(["init", "--shards", "6"], dir);
    assert.equal(first.exitCode, 0, first.stderr);
    assert.match(readFileSync(path.join(dir, "partykit.json"), "utf8"), /"router": "src\/router\.ts"/);
    const router = readFileSync(path.join(dir, "src/router.ts"), "utf8");
    // The options reached the router: its count, the party it wraps, the runtime beside it; its checksum holds.
    assert.match(router, /^const SHARD_COUNT = 6;$/m);
    assert.match(router, /^export const SHARDED_PARTY = "main";$/m);
    assert.match(router, /^import Sharded from "\.\/server";$/m);
    assert.match(router, /from "\.\/party-shard-server";$/m);
    assert.equal(editedSinceGenerated(router), false);
    const snapshot = snapshotTree(dir);
    const second = await runCli(["init", "--shards", "6"], dir);
    assert.equal(second.exitCode, 0, second.stderr);
    assert.match(second.stdout, /already set up/);
    assert.deepEqual(snapshotTree(dir), snapshot);
  });

  it("--json prints the plan as data and nothing else on stdout", async () => {
    const dir = app();
    const result = await runCli(["init", "--json", "--dry-run"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.command, "init");
    assert.equal(report.applied, false);
    assert.deepEqual(
      report.changes.map((change: { path: string; action: string }) => [change.path, change.action]),
      [["partykit.json", "update"], ["src/router.ts", "create"], ["src/party-shard-server.ts", "create"]],
    );
    assert.match(report.changes[0].diff, /\+    "router": "src\/router\.ts"/);
  });

  it("finds the config from a subfolder, like partykit does", async () => {
    const dir = app();
    const result = await runCli(["init", "--cwd", path.join(dir, "src")], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(readFileSync(path.join(dir, "partykit.json"), "utf8"), /"parties"/);
  });

  it("--force replaces an edited router; without it, nothing is written", async () => {
    const dir = app();
    assert.equal((await runCli(["init"], dir)).exitCode, 0);
    const routerFile = path.join(dir, "src/router.ts");
    writeFileSync(routerFile, readFileSync(routerFile, "utf8").replace("const SHARD_COUNT = 4;", "const SHARD_COUNT = 5;"));
    const before = snapshotTree(dir);
    const refused = await runCli(["init"], dir);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /src\/router\.ts was edited since party-shard generated it/);
    assert.deepEqual(snapshotTree(dir), before);
    const forced = await runCli(["init", "--force", "--shards", "4"], dir);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.match(readFileSync(routerFile, "utf8"), /^const SHARD_COUNT = 4;$/m);
  });

  it("never replaces a file party-shard did not generate, not even with --force", async () => {
    const dir = app({ "src/router.ts": "// my own router\n" });
    const before = snapshotTree(dir);
    for (const args of [["init"], ["init", "--force"]]) {
      const refused = await runCli(args, dir);
      assert.equal(refused.exitCode, 2);
      assert.match(refused.stderr, /src\/router\.ts already exists and party-shard did not generate it/);
      assert.deepEqual(snapshotTree(dir), before);
    }
  });

  it("help and version exit 0; an unknown flag is a usage error", async () => {
    const dir = app();
    assert.equal((await runCli(["--help"], dir)).exitCode, 0);
    assert.match((await runCli(["--version"], dir)).stdout, /^\d+\.\d+\.\d+/);
    const unknown = await runCli(["init", "--shardz", "3"], dir);
    assert.equal(unknown.exitCode, 2);
    assert.match(unknown.stderr, /unknown option '--shardz'/);
  });

  it("--help shows defaults and choices as they are typed, without quotes", async () => {
    const dir = app();
    const help = (await runCli(["verify", "--help"], dir)).stdout + (await runCli(["check", "--help"], dir)).stdout + (await runCli(["migrate", "--help"], dir)).stdout;
    assert.match(help, /\(default: 20\)/);
    assert.match(help, /\(choices: text, github, default: text\)/);
    assert.match(help, /\(default: routed\)/);
    assert.doesNotMatch(help, /default: "/);
  });
});

// Every other kind of bad input is a row of test/bad-input.test.ts.
describe("party-shard init: errors as data, and a write that fails halfway", () => {
  it("--json reports the error as data too", async () => {
    const dir = makeProject({ "partykit.json": `{ "name": "x" }\n` });
    const result = await runCli(["init", "--json"], dir);
    assert.equal(result.exitCode, 2);
    const report = JSON.parse(result.stdout);
    assert.deepEqual(report.location, { file: "partykit.json", line: 1, col: 1 });
  });

  it("a write that fails halfway leaves the project as it was", async () => {
    const dir = app();
    // A folder where the router file should go makes the second write fail after the first is staged.
    writeFileSync(path.join(dir, "blocker"), "");
    const before = snapshotTree(dir);
    const result = await runCli(["init", "--out", "blocker/router.ts"], dir);
    assert.equal(result.exitCode, 1);
    assert.match(result.stderr, /Nothing was changed|Could not write/);
    assert.deepEqual(snapshotTree(dir), before);
  });
});

describe("writing commands and git", () => {
  it("refuse a dirty git tree unless --force; a clean one is fine", async () => {
    const { execa } = await import("execa");
    const dir = app();
    const git = (...args: string[]) => execa("git", args, { cwd: dir, env: { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } });
    await git("init", "-q");
    await git("add", "-A");
    await git("commit", "-qm", "app");
    writeFileSync(path.join(dir, "src/server.ts"), `${SERVER}// unsaved work\n`);
    const before = snapshotTree(dir);
    const refused = await runCli(["init"], dir);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /uncommitted changes \(src\/server\.ts\); nothing was written/);
    assert.deepEqual(snapshotTree(dir), before);
    assert.equal((await runCli(["init", "--dry-run"], dir)).exitCode, 0, "a dry run writes nothing, so it may run");
    assert.equal((await runCli(["init", "--force"], dir)).exitCode, 0);
    await git("add", "-A");
    await git("commit", "-qm", "init");
    assert.equal((await runCli(["init", "--shards", "4"], dir)).exitCode, 0);
  });
});

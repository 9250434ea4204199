import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { execa } from "execa";
import { CLI, REPO, runCli } from "../helpers/cli.js";
import { processesIn } from "../helpers/dev-processes.js";
import { tempDir } from "../helpers/temp.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";

// util-linux `script` gives the CLI a terminal; Ctrl-C typed into it reaches the CLI as the terminal sends it.
const HAS_SCRIPT = process.platform === "linux" && spawnSync("script", ["--version"]).status === 0;

/** A temp copy of the bundled PartyServer demo app; with `linked`, it resolves wrangler and partyserver from this repo. */
function copyPartyServerDemo(linked = true): string {
  const dir = tempDir("demo-partyserver");
  cpSync(path.join(REPO, "templates", "demo-partyserver-chat"), dir, { recursive: true });
  if (linked) linkNodeModules(dir, REPO);
  return dir;
}

async function initAndMigrate(dir: string): Promise<void> {
  for (const args of [["init", "--yes"], ["migrate", "--yes"]]) {
    const result = await runCli(args, dir);
    assert.equal(result.exitCode, 0, `${args[0]}: ${result.stdout}${result.stderr}`);
  }
}

describe("party-shard verify on a PartyServer project (built CLI, real wrangler dev)", () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("exit 0 and delivery 1.000 on the migrated PartyServer demo; wrangler dev gone after, the project left without .wrangler", async () => {
    const dir = copyPartyServerDemo();
    dirs.push(dir);
    await initAndMigrate(dir);
    const result = await runCli(["verify", "--clients", "12", "--messages", "40", "--json"], dir);
    assert.equal(result.exitCode, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.platform, "partyserver");
    assert.equal(report.router, "party-shard-router");
    assert.equal(report.deliveryRatio, 1);
    assert.equal(report.lost, 0);
    assert.equal(report.duplicates, 0);
    assert.equal(report.listeners, 11);
    assert.equal(report.publishFailures, 0);
    // The router's GET load view answered: all 12 clients sit on its shards.
    assert.equal(report.shardLoad.reduce((sum: number, count: number) => sum + count, 0), 12, JSON.stringify(report.shardLoad));
    assert.deepEqual(processesIn(dir), []);
    // Its state went to a temp folder, and the .wrangler/tmp bundle folder wrangler made is gone.
    assert.equal(existsSync(path.join(dir, ".wrangler")), false);
  });

  it("exit 1 when the party throws on the probe's messages, naming what it logged (not wrangler's offline warnings)", async () => {
    const dir = copyPartyServerDemo();
    dirs.push(dir);
    const server = path.join(dir, "src", "server.ts");
    const handler = `    const text = typeof message === "string" ? message : "<binary>";`;
    writeFileSync(server, readFileSync(server, "utf8").replace(handler, `${handler}\n    if (!text.startsWith("/")) throw new Error("unknown message kind");`));
    assert.match(readFileSync(server, "utf8"), /unknown message kind/);
    await initAndMigrate(dir);
    const result = await runCli(["verify", "--clients", "3", "--messages", "3"], dir);
    assert.equal(result.exitCode, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /delivery +0\.000 \(6 lost of 6\)/);
    assert.match(result.stdout, /party logged +.*unknown message kind/);
    assert.doesNotMatch(result.stdout, /workers\.cloudflare\.com/);
  });

  // One migrated copy for both interruptions.
  let interrupted: string | undefined;
  async function migratedCopy(): Promise<string> {
    if (interrupted) return interrupted;
    const dir = copyPartyServerDemo();
    dirs.push(dir);
    await initAndMigrate(dir);
    return (interrupted = dir);
  }

  it("SIGTERM while publishing: exit 143, wrangler dev stopped, nothing left running", async () => {
    const dir = await migratedCopy();
    const child = execa(process.execPath, [CLI, "verify", "--messages", "5000"], {
      cwd: dir,
      env: { CI: "true", FORCE_COLOR: "0", NO_COLOR: "1" },
      stdin: "ignore",
      reject: false,
    });
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("Connecting") && !child.killed) setTimeout(() => child.kill("SIGTERM"), 500);
    });
    const result = await child;
    assert.equal(result.exitCode, 143, `${result.signal ?? ""} ${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /Starting wrangler dev in /);
    assert.match(result.stderr, /Interrupted by SIGTERM; wrangler dev was stopped\./);
    assert.deepEqual(processesIn(dir), []);
  });

  it("Ctrl-C on a terminal: exit 130, wrangler dev (in a process group of its own, so the terminal's SIGINT misses it) stopped by verify", { skip: !HAS_SCRIPT && "needs util-linux script" }, async () => {
    const dir = await migratedCopy();
    const child = execa("script", ["-qefc", `${process.execPath} ${CLI} verify --messages 5000`, "/dev/null"], { cwd: dir, env: { FORCE_COLOR: "0", NO_COLOR: "1" }, reject: false });
    let typed = false;
    child.stdout.on("data", (chunk: Buffer) => {
      if (typed || !chunk.toString().includes("published")) return;
      typed = true;
      // Kept open: script hangs up the terminal when its input ends.
      setTimeout(() => child.stdin.write("\x03"), 300);
    });
    const result = await child.finally(() => child.stdin.end());
    assert.equal(result.exitCode, 130, result.stdout);
    assert.match(result.stdout, /Interrupted by SIGINT; wrangler dev was stopped\./);
    assert.deepEqual(processesIn(dir), []);
  });

  it("npm run demo -- --partyserver: init, migrate, check and verify on the bundled app, delivery 1.000, its temp copy removed", async () => {
    const demo = await execa(process.execPath, [path.join(REPO, "dist", "demo.js"), "--partyserver"], {
      cwd: REPO,
      env: { CI: "true", FORCE_COLOR: "0", NO_COLOR: "1" },
      all: true,
      reject: false,
    });
    assert.equal(demo.exitCode, 0, demo.all);
    assert.match(demo.all, /party-shard demo: a PartyServer chat app/);
    assert.match(demo.all, /\+ {4}"bindings": \[\{ "name": "Chat", "class_name": "Chat" \}, \{ "name": "PartyShardRouter", "class_name": "PartyShardRouter" \}\]/);
    assert.match(demo.all, /-export class Chat extends Server<Env> \{\n\+export class Chat extends Sharded<Env> \{/);
    assert.match(demo.all, /\+ {4}party: "party-shard-router",/);
    assert.match(demo.all, /party-shard check: fully sharded\./);
    assert.match(demo.all, /Starting wrangler dev in /);
    assert.match(demo.all, /delivery +1\.000 \(0 lost of 1900\)/);
    const copy = /copied to (\S+)/.exec(demo.all)?.[1];
    assert.ok(copy, demo.all);
    assert.equal(existsSync(copy), false, `${copy} is left`);
  });

  it("exit 2 naming init when the project has no router binding yet", async () => {
    const dir = copyPartyServerDemo();
    dirs.push(dir);
    const result = await runCli(["verify"], dir);
    assert.equal(result.exitCode, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /No party-shard router in wrangler\.jsonc: no Durable Object binding "PartyShardRouter"\. Run `npx party-shard init` first\./);
  });

  it("exit 2 with the install command when wrangler is not installed", async () => {
    const dir = copyPartyServerDemo(false);
    dirs.push(dir);
    // The router binding, as init adds it: verify gets as far as starting wrangler.
    const config = path.join(dir, "wrangler.jsonc");
    writeFileSync(config, readFileSync(config, "utf8").replace(`{ "name": "Chat", "class_name": "Chat" }`, `{ "name": "Chat", "class_name": "Chat" }, { "name": "PartyShardRouter", "class_name": "PartyShardRouter" }`));
    assert.match(readFileSync(config, "utf8"), /PartyShardRouter/);
    const result = await runCli(["verify"], dir);
    assert.equal(result.exitCode, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /wrangler is not installed in .*\n.*npm install -D wrangler/);
  });
});

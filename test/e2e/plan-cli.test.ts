import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { makeProject, runCli, snapshotTree } from "../helpers/cli.js";

const CONFIG = `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`;
const SERVER = "export default class Server {\n  onMessage() {}\n}\n";
const routerLine = (dir: string, name: string) => new RegExp(`^const ${name} = (\\d+);$`, "m").exec(readFileSync(path.join(dir, "src/router.ts"), "utf8"))?.[1];

describe("party-shard plan (built CLI)", () => {
  it("prints the shards a room needs, the binding limit, the init command and a month's cost; --json says the same", async () => {
    const dir = makeProject({});
    const result = await runCli(["plan", "--connections", "2000", "--messages-per-second", "0.1", "--writes", "socket"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /sharded: 5 shards of 400/);
    assert.match(result.stdout, /^Shards: 5, at 400 clients a shard; deliveries bind first/m);
    assert.match(result.stdout, /npx party-shard init --shards 5 --shard-target 400/);
    assert.match(result.stdout, /^ {2}one room +\$\d[\d,]*\.\d\d +\(/m);
    assert.match(result.stdout, /^ {2}5 shards +\$\d[\d,]*\.\d\d +\(/m);
    const json = JSON.parse((await runCli(["plan", "--connections", "2000", "--room-messages-per-second", "200", "--writes", "socket", "--json"], dir)).stdout);
    assert.deepEqual([json.sharded.shards, json.sharded.target, json.sharded.binding.limit, json.init], [5, 400, "deliveries", "npx party-shard init --shards 5 --shard-target 400"]);
    assert.equal(json.input.messagesPerClientPerSecond, 0.1, "the room's rate, per client");
  });

  it("a room no shard count carries says so, the leader's limit first, and still exits 0 with a cost line", async () => {
    const result = await runCli(["plan", "--connections", "50000", "--messages-per-second", "10", "--fanout", "everyone"], makeProject({}));
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /No number of shards carries this room: leader events 60,000 a second against 500\./);
    assert.match(result.stdout, /at most ~4,167 messages a second with routed writes/);
    assert.match(result.stdout, /^ {2}256 shards +\$/m);
    const json = JSON.parse((await runCli(["plan", "--connections", "50000", "--messages-per-second", "10", "--json"], makeProject({}))).stdout);
    assert.equal(json.init, null);
    assert.equal(json.sharded.checks.find((check: { limit: string }) => check.limit === "events").shardsNeeded, null, "JSON has no Infinity");
  });

  it("--save keeps the plan, which the next plan takes as its defaults, and check warns until the router carries it (fails with --strict)", async () => {
    const dir = makeProject({ "partykit.json": CONFIG, "src/server.ts": SERVER });
    assert.equal((await runCli(["init", "--yes", "--shards", "2"], dir)).exitCode, 0);
    assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);
    const saved = await runCli(["plan", "--connections", "2000", "--messages-per-second", "0.1", "--writes", "socket", "--save"], dir);
    assert.equal(saved.exitCode, 0, saved.stderr);
    assert.match(saved.stdout, /Saved to party-shard\.plan\.json/);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, "party-shard.plan.json"), "utf8")), { connections: 2000, messagesPerClientPerSecond: 0.1, fanout: "everyone", messageBytes: 200, writes: "socket" });
    assert.match((await runCli(["plan", "--writes", "socket"], dir)).stdout, /^party-shard plan: 2,000 connections, 0\.1 messages a second each/m);
    assert.match((await runCli(["plan", "--connections", "4000", "--writes", "socket"], dir)).stdout, /^party-shard plan: 4,000 connections, 0\.1 messages/m, "a flag wins over the file");

    const warned = await runCli(["check", "--writes", "socket"], dir);
    assert.equal(warned.exitCode, 0, warned.stdout + warned.stderr);
    assert.match(warned.stdout, /party-shard\.plan\.json {2}warning: the router has at most 2 shards; the room in party-shard\.plan\.json needs 5 \(deliveries binds first\): npx party-shard init --shards 5 --shard-target 400 \(check --strict fails on this\)/);
    const strict = await runCli(["check", "--writes", "socket", "--strict"], dir);
    assert.equal(strict.exitCode, 1, strict.stdout);
    assert.match(strict.stdout, /^party-shard\.plan\.json {2}the router has at most 2 shards/m);

    assert.equal((await runCli(["init", "--yes", "--force", "--shards", "5", "--shard-target", "400"], dir)).exitCode, 0);
    assert.deepEqual([routerLine(dir, "SHARD_COUNT"), routerLine(dir, "SHARD_TARGET")], ["5", "400"]);
    const green = await runCli(["check", "--writes", "socket", "--strict"], dir);
    assert.equal(green.exitCode, 0, green.stdout);
    assert.doesNotMatch(green.stdout, /warning/);
  });

  it("check warns when a routed write could pass the Free plan's 50 subrequests", async () => {
    const dir = makeProject({ "partykit.json": CONFIG, "src/server.ts": SERVER });
    assert.equal((await runCli(["init", "--yes", "--shards", "64"], dir)).exitCode, 0);
    assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);
    const result = await runCli(["check"], dir);
    assert.equal(result.exitCode, 0, result.stdout);
    assert.match(result.stdout, /warning: 64 shards: a routed write may ask every shard whether it holds the writer, then send it to its own \(65 subrequests in one invocation\), past the Workers Free plan's 50/);
    const strict = await runCli(["check", "--strict"], dir);
    assert.equal(strict.exitCode, 1);
    assert.match(strict.stdout, /^partykit\.json {2}64 shards/m);
  });

  for (const [name, args, files, message] of [
    ["no size", ["plan", "--messages-per-second", "1"], {}, /^error: plan needs --connections: no party-shard\.plan\.json here gives it\.\nhint: Say the room's size and rate/],
    ["no rate", ["plan", "--connections", "10"], {}, /^error: plan needs --messages-per-second or --room-messages-per-second/],
    ["both rates", ["plan", "--connections", "10", "--messages-per-second", "1", "--room-messages-per-second", "10"], {}, /say the same thing: give one/],
    ["a bad fanout", ["plan", "--connections", "10", "--messages-per-second", "1", "--fanout", "all"], {}, /--fanout must be everyone, sender or a number of clients; got "all"/],
    ["a bad rate", ["plan", "--connections", "10", "--messages-per-second", "1e3"], {}, /--messages-per-second must be a number from 0 to 1,000; got "1e3"/],
    ["a broken plan file", ["plan", "--save"], { "party-shard.plan.json": '{ "connections": 10 ' }, /^error: party-shard\.plan\.json: the saved plan is not JSON/],
    ["a bad field in it", ["plan", "--save", "--connections", "5"], { "party-shard.plan.json": '{ "connections": 10, "messagesPerClientPerSecond": "fast" }' }, /"messagesPerClientPerSecond": "fast"; it must be a number from 0 to 1000/],
    ["a plan file that is a folder", ["plan"], { "party-shard.plan.json/x": "" }, /^error: party-shard\.plan\.json: the saved plan is not a file\./],
    ["a plan file too big", ["plan", "--connections", "5", "--messages-per-second", "1"], { "party-shard.plan.json": " ".repeat(5_000) }, /^error: party-shard\.plan\.json: the saved plan is larger than 4096 bytes\./],
    ["--shard-target 0", ["init", "--shard-target", "0"], { "partykit.json": CONFIG, "src/server.ts": SERVER }, /--shard-target must be a whole number from 1 to 10000; got "0"/],
  ] as const) {
    it(`bad input, ${name}: exit 2, where and why, nothing written`, async () => {
      const dir = makeProject(files);
      const before = snapshotTree(dir);
      const result = await runCli([...args], dir);
      assert.equal(result.exitCode, 2, result.stdout + result.stderr);
      assert.match(result.stderr, message);
      assert.deepEqual(snapshotTree(dir), before);
    });
  }

  it("check refuses a broken saved plan: exit 2, the file named", async () => {
    const dir = makeProject({ "partykit.json": CONFIG, "src/server.ts": SERVER });
    assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
    writeFileSync(path.join(dir, "party-shard.plan.json"), "[1]");
    const result = await runCli(["check"], dir);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /party-shard\.plan\.json: the saved plan is not an object/);
  });
});

import assert from "node:assert/strict";
import { copyFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { FIXTURES, REPO, copyDemoApp, copyProject, runCli } from "../helpers/cli.js";

describe("party-shard verify (built CLI, real partykit dev)", () => {
  it("exit 0 and delivery 1.000 on the migrated demo app", async () => {
    const dir = copyDemoApp();
    // A shard per 3 clients: the 12 fill all 4 shards, as the room grows.
    await runCli(["init", "--yes", "--shard-target", "3"], dir);
    await runCli(["migrate", "--yes"], dir);
    const result = await runCli(["verify", "--clients", "12", "--messages", "40", "--json"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.deliveryRatio, 1);
    assert.equal(report.lost, 0);
    assert.equal(report.duplicates, 0);
    assert.equal(report.listeners, 11);
    assert.equal(report.publishFailures, 0);
    assert.deepEqual(report.shardLoad, [3, 3, 3, 3]);
  });

  it("exit 1, loss reported, against a broken router", async () => {
    const dir = copyProject("broadcast");
    copyFileSync(path.join(FIXTURES, "routers", "naive-router.ts"), path.join(dir, "src", "router.ts"));
    writeFileSync(path.join(dir, "partykit.json"), JSON.stringify({ name: "naive", main: "src/main.ts", parties: { router: "src/router.ts" } }));
    const result = await runCli(["verify", "--router", "router", "--clients", "10", "--messages", "8"], dir);
    assert.equal(result.exitCode, 1, result.stderr);
    // The writer is one of the 10 clients; the other 9 listen: 72 receipts for 8 writes, or 9 per
    // write sent when the naive router's first writes reached nobody and verify stopped early.
    const delivery = /delivery +0\.\d{3} \(\d+ lost of (\d+)\)/.exec(result.stdout);
    assert.ok(delivery && Number(delivery[1]) % 9 === 0 && Number(delivery[1]) <= 72, result.stdout);
    assert.doesNotMatch(result.stdout, /NaN/);
    assert.match(result.stdout, /verify: (messages were lost or duplicated|the first \d+ writes reached no client; stopped there)/);
  });

  it("--payload shapes the probe like the party's own traffic; a party that refuses the probe's shape is named with what it logged", async () => {
    const dir = copyDemoApp();
    // A party that accepts one message shape only, and throws on anything else.
    writeFileSync(
      path.join(dir, "party", "chat.ts"),
      `import type * as Party from "partykit/server";

export default class Chat implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onMessage(message: string) {
    const data = JSON.parse(message) as { kind?: string; body?: string };
    if (data.kind !== "say") throw new Error("unknown message kind");
    this.room.broadcast(JSON.stringify({ said: data.body }));
  }
}
`,
    );
    assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
    assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);

    const refused = await runCli(["verify", "--clients", "3", "--messages", "3"], dir);
    assert.equal(refused.exitCode, 1, refused.stderr);
    assert.match(refused.stdout, /delivery +0\.000 \(6 lost of 6\)/);
    assert.match(refused.stdout, /party logged +.*unknown message kind/);
    assert.match(refused.stdout, /Pass --payload shaped like your clients' messages/);
    assert.match(refused.stdout, /fan-out latency p50 +— \(no message reached every client\)/);
    assert.doesNotMatch(refused.stdout, /NaN/);

    const shaped = await runCli(["verify", "--clients", "3", "--messages", "10", "--payload", '{"kind":"say","body":"{id}"}'], dir);
    assert.equal(shaped.exitCode, 0, shaped.stdout + shaped.stderr);
    assert.match(shaped.stdout, /delivery +1\.000 \(0 lost of 20\)/);
  });

  it("exit 2 with a clear message when partykit is not installed", async () => {
    const dir = copyProject("broadcast");
    rmSync(path.join(dir, "node_modules"), { recursive: true });
    await runCli(["init", "--yes"], dir);
    const result = await runCli(["verify"], dir);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /partykit is not installed in .*\n.*npm install -D partykit/);
  });

  it("exit 2 on a bad --clients", async () => {
    const result = await runCli(["verify", "--clients", "0"], copyDemoApp());
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /--clients must be a whole number from 1 to 1000/);
  });
});

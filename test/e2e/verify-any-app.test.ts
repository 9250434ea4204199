import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { execa } from "execa";
import { CLI, copyProject, runCli } from "../helpers/cli.js";
import { processesIn } from "../helpers/dev-processes.js";

/**
 * verify on an app that broadcasts its state, not the message, and only once a poll was made by
 * a POST (test/fixtures/projects/poll, shaped like the public partypoll app). One migrated copy,
 * one partykit dev per verify run: two in all.
 */
describe("party-shard verify on a poll app (built CLI, real partykit dev)", () => {
  let dir = "";
  before(async () => {
    dir = copyProject("poll");
    for (const args of [["init", "--yes"], ["migrate", "--yes"]]) {
      const result = await runCli(args, dir);
      assert.equal(result.exitCode, 0, `${args[0]}: ${result.stdout}${result.stderr}`);
    }
  });

  it("with its setup POST and a vote as the payload: delivery 1.000 sharded and unsharded, any frame counted; --json opens with the summary", async () => {
    const setup = `POST /parties/main/{room} {"title":"Lunch?","options":["pizza","sushi"]}`;
    const result = await runCli(["verify", "--setup", setup, "--payload", `{"type":"vote","option":1}`, "--clients", "6", "--messages", "30", "--json"], dir);
    assert.equal(result.exitCode, 0, result.stdout + result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(Object.keys(report)[0], "summary");
    assert.deepEqual(report.summary, {
      command: "verify",
      platform: "partykit",
      party: { name: "main", file: "src/poll.ts" },
      shards: 4,
      filesChanged: 0,
      findings: { info: 0, warning: 0, manual: 0 },
      next: "deploy the server (router and wrapped party) first, then the client bundle",
    });
    assert.equal(report.hint, report.summary.next);
    assert.equal(report.counted, "any");
    assert.equal(report.deliveryRatio, 1);
    assert.equal(report.messages, 30);
    // The setup went through the router (migrated clients' way); the unsharded one straight to the room.
    assert.deepEqual(report.setup.map((outcome: { status: number; path: string }) => [outcome.status, outcome.path.split("/")[2]]), [[201, "router"]]);
    assert.equal(report.unsharded.party, "main");
    assert.deepEqual(report.unsharded.setup.map((outcome: { status: number; path: string }) => [outcome.status, outcome.path.split("/")[2]]), [[201, "main"]]);
    assert.equal(report.unsharded.deliveryRatio, 1);
    assert.equal(report.unsharded.counted, "any");
    assert.deepEqual(processesIn(dir), []);
  });

  it("without it every vote is dropped: said within 15 s of the server being ready, the unsharded run beside, frames and write statuses shown", async () => {
    // Read from the project's verify config: a payload without {id} counts any frame.
    writeFileSync(path.join(dir, "party-shard.verify.json"), `{ "payload": "{\\"type\\":\\"vote\\",\\"option\\":0}" }\n`);
    const child = execa(process.execPath, [CLI, "verify", "--clients", "4"], { cwd: dir, env: { CI: "true", FORCE_COLOR: "0", NO_COLOR: "1" }, stdin: "ignore", reject: false });
    let readyAt: number | undefined;
    // The first "Connecting" line is printed once the server answers.
    child.stdout.on("data", (chunk: Buffer) => {
      if (readyAt === undefined && chunk.toString().includes("Connecting")) readyAt = Date.now();
    });
    const result = await child;
    const seconds = (Date.now() - readyAt!) / 1000;
    assert.equal(result.exitCode, 1, result.stdout + result.stderr);
    assert.ok(seconds < 15, `${seconds} s after the server was ready`);
    const out = result.stdout;
    assert.match(out, /sharded, through "router" +unsharded, straight to "main"/);
    assert.match(out, /delivery +0\.000 \(\d+ lost of \d+\) +0\.000 \(\d+ lost of \d+\)/);
    assert.match(out, /stopped early +after [45] writes \([\d.]+ s\): none reached a client +after [45] writes/);
    assert.match(out, /writes answered +200 × [45] +sent × [45]/);
    assert.match(out, /frames received +0 \(0 before the first write\) +0 \(0 before the first write\)/);
    assert.match(out, /verify: the first [45] writes reached no client; stopped there/);
    assert.match(out, /Next: no client received anything after a write; the app does the same unsharded, so the probe does not fit it\. Pass --payload .*--setup for the state the party needs first/);
    assert.deepEqual(processesIn(dir), []);
  });
});

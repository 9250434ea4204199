import assert from "node:assert/strict";
import { copyFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { FIXTURES, REPO, copyDemoApp, copyProject, runCli } from "./helpers/cli.js";

describe("party-shard verify (built CLI, real partykit dev)", () => {
  it("exit 0 and delivery 1.000 on the migrated demo app", async () => {
    const dir = copyDemoApp();
    await runCli(["init", "--yes"], dir);
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
    symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
    const result = await runCli(["verify", "--router", "router", "--clients", "10", "--messages", "8"], dir);
    assert.equal(result.exitCode, 1, result.stderr);
    // The writer is one of the 10 clients; the other 9 listen.
    assert.match(result.stdout, /delivery +0\.\d{3} \(\d+ lost of 72\)/);
    assert.doesNotMatch(result.stdout, /NaN/);
    assert.match(result.stdout, /messages were lost or duplicated/);
  });

  it("exit 2 with a clear message when partykit is not installed", async () => {
    const dir = copyProject("broadcast");
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

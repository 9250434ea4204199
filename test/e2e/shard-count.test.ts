import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { makeProject, runCli, snapshotTree } from "../helpers/cli.js";

const CONFIG = `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`;

/** A project already set up with `init --shards 8`. */
async function shardedApp(): Promise<string> {
  const dir = makeProject({ "partykit.json": CONFIG, "src/server.ts": "export default class Server {\n  onMessage() {}\n}\n" });
  const init = await runCli(["init", "--shards", "8"], dir);
  assert.equal(init.exitCode, 0, init.stderr);
  return dir;
}

const shardCount = (dir: string) => Number(/^const SHARD_COUNT = (\d+);$/m.exec(readFileSync(path.join(dir, "src/router.ts"), "utf8"))?.[1]);

describe("changing the shard count", () => {
  it("init without --shards keeps the router's count and changes nothing", async () => {
    const dir = await shardedApp();
    const before = snapshotTree(dir);
    const again = await runCli(["init", "--yes"], dir);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /already set up/);
    assert.deepEqual(snapshotTree(dir), before);
    const forced = await runCli(["init", "--force"], dir);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.equal(shardCount(dir), 8);
    assert.deepEqual(snapshotTree(dir), before);
  });

  it("--shards 6 --dry-run shows the count's diff and writes nothing", async () => {
    const dir = await shardedApp();
    const before = snapshotTree(dir);
    const dry = await runCli(["init", "--shards", "6", "--dry-run"], dir);
    assert.equal(dry.exitCode, 0, dry.stderr);
    assert.match(dry.stdout, /--- a\/src\/router\.ts\n\+\+\+ b\/src\/router\.ts/);
    assert.match(dry.stdout, /^-const SHARD_COUNT = 8;\n\+const SHARD_COUNT = 6;$/m);
    assert.match(dry.stdout, /would update src\/router\.ts/);
    // Only the router changes (init's first line still names the config it found).
    assert.doesNotMatch(dry.stdout, /^(---|\+\+\+) [ab]\/(partykit\.json|\S*party-shard-server\.ts)|would (create|update) (partykit\.json|\S*party-shard-server\.ts)/m);
    assert.deepEqual(snapshotTree(dir), before);
  });

  it("--shards 6 updates the router in place and nothing else", async () => {
    const dir = await shardedApp();
    const before = snapshotTree(dir);
    const result = await runCli(["init", "--shards", "6"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /updated src\/router\.ts/);
    const after = snapshotTree(dir);
    assert.deepEqual(Object.keys(after).filter((file) => after[file] !== before[file]), ["src/router.ts"]);
    assert.equal(shardCount(dir), 6);
    // Back up again, and a re-run then changes nothing.
    assert.equal((await runCli(["init", "--shards", "12"], dir)).exitCode, 0);
    assert.equal(shardCount(dir), 12);
    const settled = snapshotTree(dir);
    assert.match((await runCli(["init", "--shards", "12"], dir)).stdout, /already set up/);
    assert.deepEqual(snapshotTree(dir), settled);
  });

  it("a router edited by hand is not regenerated for a new count unless --force", async () => {
    const dir = await shardedApp();
    const routerFile = path.join(dir, "src/router.ts");
    writeFileSync(routerFile, readFileSync(routerFile, "utf8").replace("  readonly options = { hibernate: true };", "  // tuned by hand\n  readonly options = { hibernate: true };"));
    const before = snapshotTree(dir);
    const refused = await runCli(["init", "--shards", "6"], dir);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /src\/router\.ts was edited since party-shard generated it/);
    assert.deepEqual(snapshotTree(dir), before);
    const forced = await runCli(["init", "--shards", "6", "--force"], dir);
    assert.equal(forced.exitCode, 0, forced.stderr);
    assert.equal(shardCount(dir), 6);
    assert.doesNotMatch(readFileSync(routerFile, "utf8"), /tuned by hand/);
  });
});

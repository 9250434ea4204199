import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DOC_ROOMS, costTable, monthlyCost, shardedLayout, unshardedLayout, type Room } from "../src/core/capacity/cost-model.js";

// A 30-day month is 2,592,000 s; 10,000 clients at 1 msg/s send 2.592e10 messages in it and,
// connecting once a day, make 300,000 connects.
const busy: Room = { clients: 10_000, messagesPerClientPerSecond: 1, connectsPerClientPerMonth: 30 };
const idle: Room = { ...busy, messagesPerClientPerSecond: 0 };
const sharded = shardedLayout({ shards: 4, postsPerWrite: 1, linkFramesInPerWrite: 0, linkFramesOutPerWrite: 0.5, linkFramesInPerConnect: 1, linkFramesOutPerConnect: 1, storageOpsPerConnect: 1 });

/** Equal to a cent's hundredth: the model's floating point against the hand calculation. */
function near(actual: number, expected: number) {
  assert.ok(Math.abs(actual - expected) < 1e-4 * Math.max(1, Math.abs(expected)), `${actual} ≠ ${expected}`);
}

describe("cost model (src/core/capacity/cost-model.ts) against a hand calculation", () => {
  it("unsharded, busy: 2.592e10 messages / 20 + 300,000 upgrades; one object awake all month", () => {
    const cost = monthlyCost(busy, unshardedLayout());
    near(cost.requests, 1_296_000_000 + 300_000);
    near(cost.usd.requests, 1_296.3 * 0.15); // $194.445
    near(cost.gbSeconds, 2_592_000 * 0.125); // 324,000 GB-s
    near(cost.usd.duration, 0.324 * 12.5); // $4.05
    near(cost.usd.total, 194.445 + 4.05);
  });

  it("unsharded, idle: only the upgrades; the room hibernates", () => {
    const cost = monthlyCost(idle, unshardedLayout());
    near(cost.requests, 300_000);
    near(cost.gbSeconds, 0);
    near(cost.usd.total, 0.045);
  });

  it("sharded, busy: 3 requests and 0.5 frame per message, 4 requests and 2 frames per connect; 4 shards and the leader awake", () => {
    const cost = monthlyCost(busy, sharded);
    // A POST: the shard's key check, the write at the shard, and (unmeasured) one leader request.
    // 2.592e10 × (3 + 0.5 / 20) + 300,000 × (4 + 2 / 20)
    near(cost.requests, 78_408_000_000 + 1_230_000);
    near(cost.usd.requests, 78_409.23 * 0.15); // $11,761.3845
    near(cost.gbSeconds, 5 * 324_000);
    near(cost.usd.duration, 20.25);
    near(cost.rowsWritten, 300_000);
    near(cost.usd.total, 11_761.3845 + 20.25 + 0.3);
  });

  it("sharded, idle: the 4 shards stay awake for their links to the leader", () => {
    const cost = monthlyCost(idle, sharded);
    near(cost.requests, 1_230_000);
    near(cost.usd.duration, 4 * 4.05);
    near(cost.usd.total, 0.1845 + 16.2 + 0.3);
  });

  it("sharded: the leader's measured events per message replace its one request per POST", () => {
    const batched = shardedLayout({ shards: 4, postsPerWrite: 1, leaderEventsPerWrite: 0.1 });
    // 2.592e10 × (2 + 0.1) + 300,000 × 4
    near(monthlyCost(busy, batched).requests, 54_432_000_000 + 1_200_000);
  });

  it("sharded, routed writes on the link: the leader's link messages in are billed as messages, only its requests as requests", () => {
    const onLink = shardedLayout({ shards: 4, postsPerWrite: 1, leaderEventsPerWrite: 0.15, linkFramesInPerWrite: 0.14, linkFramesOutPerWrite: 1 });
    // 2.592e10 × (2 + 0.01 + (0.14 + 1) / 20) + 300,000 × 4
    near(monthlyCost(busy, onLink).requests, 2.592e10 * (2.01 + 1.14 / 20) + 1_200_000);
  });

  it("sharded, routed writes: the shard requests measured per POST (checks at every shard for a writer not known yet) replace the two of a check and a write", () => {
    const measured = shardedLayout({ shards: 4, postsPerWrite: 1, shardRequestsPerPost: 2.6, leaderEventsPerWrite: 0.15, linkFramesInPerWrite: 0.14, linkFramesOutPerWrite: 1 });
    // 2.592e10 × (2.6 + 0.01 + (0.14 + 1) / 20) + 300,000 × 4
    near(monthlyCost(busy, measured).requests, 2.592e10 * (2.61 + 1.14 / 20) + 1_200_000);
  });

  it("sharded, writes on the socket: the client's message, and the link frames it causes, billed 20:1; no request", () => {
    const onSockets = shardedLayout({ shards: 4, postsPerWrite: 0, writesVia: "socket", leaderEventsPerWrite: 0.1, linkFramesInPerWrite: 0.1, linkFramesOutPerWrite: 2 });
    // 2.592e10 × (1 + 0.1 + 2) / 20 + 300,000 × 4
    near(monthlyCost(busy, onSockets).requests, 4_017_600_000 + 1_200_000);
    assert.equal(onSockets.label, "sharded, 4 shards, socket writes");
  });

  it("a room with a message every 10 s or more often counts as busy; rarer, as idle", () => {
    const room = (rate: number): Room => ({ clients: 1, messagesPerClientPerSecond: rate, connectsPerClientPerMonth: 0 });
    near(monthlyCost(room(0.1), unshardedLayout()).gbSeconds, 324_000);
    near(monthlyCost(room(0.05), unshardedLayout()).gbSeconds, 0);
  });

  it("prints the table docs/cost.md shows, one line per room and layout", () => {
    const table = costTable(DOC_ROOMS, [unshardedLayout(), sharded]).split("\n");
    assert.equal(table.length, 2 + 4);
    assert.match(table[5]!, /^\| 10,000 at 1 msg\/s \| sharded, 4 shards \| 78,409\.2 M \| 1,620,000 \| 300,000 \| \$11,761\.38 \| \$20\.25 \| \$0\.30 \| \$11,781\.93 \|$/);
  });
});

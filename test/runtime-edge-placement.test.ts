import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { edgeConnect } from "../src/runtime/edge.js";
import type { Edge } from "../src/runtime/host.js";
import { rendezvousOrder } from "../src/runtime/shard-choice.js";

let rooms = 0;

/**
 * An edge of `shards` shards on a room of its own (the isolate's memory is per room). The router's
 * room answers its counts with `counts()` (never, by default); each request to it is recorded.
 */
function edgeOf(shards: number | undefined, counts: () => Promise<Response> = () => new Promise<Response>(() => {})) {
  const routerCalls: { room: string; headers: Headers }[] = [];
  const placed: number[] = [];
  const edge: Edge = {
    room: `room-${++rooms}`,
    leader: () => Promise.reject(new Error("the leader is not asked")),
    routerRoom: (room) => async (_path, init) => {
      routerCalls.push({ room, headers: new Headers(init.headers) });
      return counts();
    },
    toShard: async (shardRoom) => {
      placed.push(Number(/!shard-(\d+)$/.exec(shardRoom)![1]));
      return new Response(null, { status: 204 });
    },
    hook: async (_kind, req) => req,
    shards,
    viewToken: undefined,
  };
  return { edge, routerCalls, placed };
}

const socket = (id: string) => new Request(`http://host/parties/router/lobby?_pk=${encodeURIComponent(id)}`, { headers: { upgrade: "websocket" } });

/** Clients per shard (index 0 is shard 1). */
function perShard(placed: number[], shards: number): number[] {
  const counts = new Array<number>(shards).fill(0);
  for (const shard of placed) counts[shard - 1]! += 1;
  return counts;
}

const imbalance = (counts: number[]) => Math.max(...counts) / (counts.reduce((a, b) => a + b) / counts.length);

describe("the edge places a socket itself", () => {
  it("100 connects at once: none waits on the router's room, which is asked once for its counts (in the background) and never to place", { timeout: 5_000 }, async () => {
    const { edge, routerCalls, placed } = edgeOf(4);
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => edgeConnect(socket(`client-${i}`), edge)));
    assert.ok(answers.every((res) => res.status === 204));
    assert.equal(placed.length, 100);
    assert.equal(routerCalls.length, 1, "one refresh of the counts, whose answer never came");
    assert.equal(routerCalls[0]!.room, edge.room);
    assert.equal(routerCalls[0]!.headers.get("x-party-shard-counts"), "1");
    assert.equal(routerCalls[0]!.headers.get("x-party-shard-place"), null);
  });

  it("with no knowledge yet, a client goes to its first rendezvous choice", async () => {
    const { edge, placed } = edgeOf(8);
    await edgeConnect(socket("first-of-all"), edge);
    assert.deepEqual(placed, [rendezvousOrder("first-of-all", 8)[0]]);
  });

  for (const shards of [4, 8]) {
    it(`1,000 connects on one isolate over ${shards} shards come out within 1.05 of even, by its own counts alone`, async () => {
      const { edge, placed } = edgeOf(shards);
      for (let i = 0; i < 1_000; i++) await edgeConnect(socket(`burst-${shards}-${i}`), edge);
      const counts = perShard(placed, shards);
      assert.ok(imbalance(counts) <= 1.05, `max/mean ${imbalance(counts).toFixed(3)}: ${counts}`);
      // Each placement is counted at once: even to one client.
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${counts}`);
    });
  }

  it("counts that come back from the router's room lag behind: the isolate's own placements still keep a burst even, to one client", async () => {
    // The router's room answers what the shards held when asked: the placements made so far, less those still on their way.
    const shards = 8;
    const landed: number[] = [];
    const { edge, placed } = edgeOf(shards, async () => Response.json({ load: perShard(landed, shards) }));
    mock.timers.enable({ apis: ["Date"] });
    try {
      for (let i = 0; i < 1_000; i++) {
        await edgeConnect(socket(`lag-${i}`), edge);
        landed.push(...placed.slice(landed.length, Math.max(landed.length, placed.length - 30)));
        mock.timers.tick(5); // a refresh every 200 connects, the burst within 5 s
      }
    } finally {
      mock.timers.reset();
    }
    const counts = perShard(placed, shards);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${counts}`);
  });

  it("the router's counts tell of clients placed elsewhere: new clients go to the emptier shards", async () => {
    const { edge, placed } = edgeOf(4, async () => Response.json({ load: [300, 0, 300, 300] }));
    await edgeConnect(socket("wakes-the-refresh"), edge);
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 100; i++) await edgeConnect(socket(`after-${i}`), edge);
    assert.ok(perShard(placed.slice(1), 4)[1]! === 100, `${perShard(placed.slice(1), 4)}`);
  });

  it("a full shard is skipped; with every shard full the socket gets 503 and retry-after", async () => {
    let load = [10_000, 0, 10_000, 10_000];
    const { edge, placed } = edgeOf(4, async () => Response.json({ load }));
    await edgeConnect(socket("wakes-the-refresh"), edge);
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 50; i++) await edgeConnect(socket(`skip-${i}`), edge);
    assert.deepEqual(perShard(placed.slice(1), 4), [0, 50, 0, 0]);
    load = [10_000, 10_000, 10_000, 10_000];
    mock.timers.enable({ apis: ["Date"], now: Date.now() + 2_000 });
    try {
      await edgeConnect(socket("wakes-another-refresh"), edge);
      await new Promise((resolve) => setImmediate(resolve));
      const res = await edgeConnect(socket("one-too-many"), edge);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("retry-after"), "5");
    } finally {
      mock.timers.reset();
    }
  });

  it("a client that reconnects returns to its shard while it has room, though others are emptier", async () => {
    const { edge, placed } = edgeOf(4);
    await edgeConnect(socket("returning"), edge);
    const first = placed[0]!;
    for (let i = 0; i < 3; i++) await edgeConnect(socket(`filler-${i}`), edge);
    for (let i = 0; i < 5; i++) await edgeConnect(socket("returning"), edge);
    assert.deepEqual(placed.filter((_, i) => i === 0 || i >= 4), Array(6).fill(first));
  });

  it("a router's room that fails to give its counts is logged, and placement goes on by the isolate's own", async () => {
    const logged = mock.method(console, "error", () => undefined);
    try {
      const { edge, placed } = edgeOf(4, async () => new Response("oops", { status: 500 }));
      for (let i = 0; i < 8; i++) await edgeConnect(socket(`unseen-${i}`), edge);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(perShard(placed, 4), [2, 2, 2, 2]);
      assert.match(String(logged.mock.calls[0]?.arguments[0]), /did not give its counts/);
    } finally {
      logged.mock.restore();
    }
  });

  it("a refresh that never answers holds up the next one for 10 s at most; once a second otherwise", async () => {
    const { edge, routerCalls } = edgeOf(4);
    mock.timers.enable({ apis: ["Date"], now: 1_000_000 });
    try {
      for (let ms = 0; ms <= 12_000; ms += 500) {
        await edgeConnect(socket(`at-${ms}`), edge);
        mock.timers.tick(500);
      }
    } finally {
      mock.timers.reset();
    }
    assert.equal(routerCalls.length, 2);
    let answered = 0;
    const { edge: answering, routerCalls: asked } = edgeOf(4, async () => (answered++, Response.json({ load: [0, 0, 0, 0] })));
    mock.timers.enable({ apis: ["Date"], now: 1_000_000 });
    try {
      for (let ms = 0; ms < 5_000; ms += 250) {
        await edgeConnect(socket(`at-${ms}`), answering);
        await new Promise((resolve) => setImmediate(resolve));
        mock.timers.tick(250);
      }
    } finally {
      mock.timers.reset();
    }
    assert.equal(asked.length, 5);
    assert.equal(answered, 5);
  });

  it("a router generated before it said its shard count: its room places each socket, as before", async () => {
    const { edge, routerCalls, placed } = edgeOf(undefined, async () => Response.json({ shard: 3 }));
    await edgeConnect(socket("old-router"), edge);
    assert.deepEqual(placed, [3]);
    assert.equal(routerCalls.length, 1);
    assert.equal(routerCalls[0]!.headers.get("x-party-shard-place"), "old-router");
  });

  it("the client cannot choose its shard: a shard room in the URL is refused, and the shard hangs on the id alone", async () => {
    const { edge, placed } = edgeOf(4);
    const refused = await edgeConnect(socket("a"), { ...edge, room: "lobby!shard-2" });
    assert.equal(refused.status, 400);
    await edgeConnect(new Request("http://host/parties/router/lobby?_pk=b&shard=4", { headers: { upgrade: "websocket" } }), edge);
    assert.deepEqual(placed, [rendezvousOrder("b", 4)[0]]);
  });
});

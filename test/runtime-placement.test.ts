import assert from "node:assert/strict";
import { afterEach, describe, it, mock } from "node:test";
import type { RoomFetch } from "../src/runtime/host.js";
import { Placement } from "../src/runtime/placement.js";
import { HEADER } from "../src/runtime/protocol.js";

/** A placement room of 4 shards whose shard rooms answer their count as `answers` says. */
function placement(answers: Record<number, (() => Promise<Response>) | number>) {
  const routerRoom = (room: string): RoomFetch => async () => {
    const answer = answers[Number(/!shard-(\d+)$/.exec(room)![1])];
    if (typeof answer === "number") return Response.json({ connections: answer });
    return answer!();
  };
  const leader: RoomFetch = async () => Response.json({});
  return new Placement("lobby", "main", 4, routerRoom, leader);
}

/** The counts, as the edge asks them (the operator's full view also asks each shard). */
async function view(place: Placement): Promise<number[]> {
  return ((await (await place.onRequest(new Request("http://router/", { headers: { [HEADER.counts]: "1" } }))).json()) as { load: number[] }).load;
}

async function placeClient(place: Placement, id: string): Promise<Response> {
  return place.onRequest(new Request("http://router/", { headers: { [HEADER.place]: id } }));
}

describe("placement: a starting router room", () => {
  afterEach(() => mock.timers.reset());

  it("takes every shard's count when all answer", async () => {
    const place = placement({ 1: 3, 2: 0, 3: 7, 4: 1 });
    await place.start();
    assert.deepEqual(await view(place), [3, 0, 7, 1]);
  });

  it("is not blocked by a shard that throws, answers an error or no count: those count from their next report", async () => {
    const errors = mock.method(console, "error", () => {});
    try {
      const place = placement({ 1: 3, 2: () => Promise.reject(new Error("restarting")), 3: async () => new Response("oops", { status: 500 }), 4: async () => Response.json({ connections: -1 }) });
      await place.start();
      assert.deepEqual(await view(place), [3, 0, 0, 0]);
      assert.equal(errors.mock.callCount(), 3);
      assert.equal((await placeClient(place, "alice")).status, 200);
      // Shard 2's own report puts its count right.
      await place.onRequest(new Request("http://router/", { headers: { [HEADER.load]: encodeURIComponent(JSON.stringify({ shard: 2, count: 9, from: "s2", n: 1, id: "bob" })) } }));
      assert.deepEqual(await view(place), [3, 9, 0, 0]);
    } finally {
      errors.mock.restore();
    }
  });

  it("waits at most 5 s for a shard that never answers", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const errors = mock.method(console, "error", () => {});
    try {
      const place = placement({ 1: 2, 2: 2, 3: 2, 4: () => new Promise<Response>(() => {}) });
      let started = false;
      const starting = place.start().then(() => (started = true));
      await new Promise((resolve) => setImmediate(resolve));
      mock.timers.tick(4_999);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(started, false);
      mock.timers.tick(1);
      await starting;
      assert.deepEqual(await view(place), [2, 2, 2, 0]);
    } finally {
      errors.mock.restore();
    }
  });

  it("counts at most 20,000 recent placements, the oldest dropped first", async () => {
    const place = placement({ 1: 0, 2: 0, 3: 0, 4: 0 });
    await place.start();
    for (let i = 0; i < 20_100; i++) await placeClient(place, `client-${i}`);
    const loads = (place as unknown as { loads: { placements: unknown[]; head: number; estimate(): number[] } }).loads;
    assert.equal(loads.placements.length - loads.head, 20_000);
    assert.equal(loads.estimate().reduce((a, b) => a + b), 20_000);
  });
});

describe("placement: the load view and the counts", () => {
  const report = (shard: number, count: number, n: number, startedAt: number) =>
    new Request("http://router/", { method: "POST", headers: { [HEADER.load]: encodeURIComponent(JSON.stringify({ shard, count, id: "someone", from: `s${shard}`, n, startedAt })) } });

  it("shows each shard's clients and when its incarnation started, from its answer at start and from its reports, and its storage operations as it says them now", async () => {
    const routerRoom = (room: string): RoomFetch => async () => {
      const shard = Number(/!shard-(\d+)$/.exec(room)![1]);
      return Response.json(shard === 4 ? { connections: 1 } : { connections: shard, startedAt: 1_000 + shard, storageOps: 10 * shard, writeRequests: shard });
    };
    const place = new Placement("lobby", "main", 4, routerRoom, async () => Response.json({ broadcasts: 0 }));
    await place.start();
    await place.onRequest(report(2, 7, 1, 5_000));
    const shown = (await (await place.onRequest(new Request("http://router/"))).json()) as Record<string, unknown>;
    // Storage operations as each shard says them when the view is asked (shard 4 does not say).
    assert.deepEqual(shown.perShard, [
      { clients: 1, startedAt: 1_001, storageOps: 10, writeRequests: 1 },
      { clients: 7, startedAt: 5_000, storageOps: 20, writeRequests: 2 },
      { clients: 3, startedAt: 1_003, storageOps: 30, writeRequests: 3 },
      { clients: 1, startedAt: null, storageOps: null, writeRequests: null },
    ]);
    assert.deepEqual(shown.load, [1, 7, 3, 1]);
    assert.deepEqual(Object.keys(shown).sort(), ["inUse", "leader", "load", "party", "perShard", "room", "shards", "since", "target"]);
    assert.deepEqual(shown.leader, { broadcasts: 0 });
    // No target (a router generated before them): every shard in use.
    assert.deepEqual([shown.target, shown.inUse], [null, 4]);
  });

  it("shows the shards in use and the target: 12 clients at 5 a shard use 3 of 4", async () => {
    const routerRoom = (room: string): RoomFetch => async () => Response.json({ connections: /!shard-[12]$/.test(room) ? 6 : 0 });
    const place = new Placement("lobby", "main", 4, routerRoom, async () => Response.json({}), 5);
    await place.start();
    const shown = (await (await place.onRequest(new Request("http://router/"))).json()) as Record<string, unknown>;
    assert.deepEqual([shown.load, shown.target, shown.inUse], [[6, 6, 0, 0], 5, 3]);
  });

  it("answers the edge's ask for counts with the counts alone, without asking the leader", async () => {
    let leaderAsked = 0;
    const place = new Placement("lobby", "main", 2, () => async () => Response.json({ connections: 4, startedAt: 1 }), async () => (leaderAsked++, Response.json({})));
    await place.start();
    const res = await place.onRequest(new Request("http://router/", { headers: { [HEADER.counts]: "1" } }));
    assert.deepEqual(await res.json(), { load: [4, 4] });
    assert.equal(leaderAsked, 0);
  });

  it("places an older router's burst evenly though the shards' reports lag behind it", async () => {
    const place = placement({ 1: 0, 2: 0, 3: 0, 4: 0 });
    await place.start();
    const shards: number[] = [];
    for (let i = 0; i < 20; i++) {
      shards.push(((await (await placeClient(place, `burst-${i}`)).json()) as { shard: number }).shard);
      // Every fourth connect, the shard it went to reports what it holds by then, less one on its way.
      if (i % 4 === 3) {
        const last = shards.at(-1)!;
        await place.onRequest(report(last, Math.max(0, shards.filter((shard) => shard === last).length - 1), i, 1));
      }
    }
    assert.deepEqual([1, 2, 3, 4].map((n) => shards.filter((shard) => shard === n).length), [5, 5, 5, 5]);
  });
});

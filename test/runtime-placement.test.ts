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

async function view(place: Placement): Promise<number[]> {
  return ((await (await place.onRequest(new Request("http://router/"))).json()) as { load: number[] }).load;
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

  it("keeps at most 20,000 placements pending, the oldest dropped first", async () => {
    const place = placement({ 1: 0, 2: 0, 3: 0, 4: 0 });
    await place.start();
    for (let i = 0; i < 20_100; i++) await placeClient(place, `client-${i}`);
    const pending = (place as unknown as { pending: Map<string, unknown> }).pending;
    assert.equal(pending.size, 20_000);
    assert.ok(!pending.has("client-99") && pending.has("client-100") && pending.has("client-20099"));
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { edgeConnect, edgeRequest } from "../src/runtime/edge.js";
import type { Edge } from "../src/runtime/host.js";
import { chooseShard, shardsInUse } from "../src/runtime/shard-choice.js";

let rooms = 0;

/**
 * An edge of `shards` shards at `target` clients each, on a room of its own (an isolate's memory
 * is per room); the router's room never answers its counts, so placement goes by this isolate's
 * own. `holder` is the shard that says it holds any writer; `asked` lists the shards asked.
 */
function targetEdge(shards: number, target: number | undefined, holder = 1) {
  const placed: number[] = [];
  const asked: number[] = [];
  const posted: number[] = [];
  const edge: Edge = {
    room: `elastic-${++rooms}`,
    leader: async () => new Response("ok", { headers: { "x-party-shard-batch": "1" } }),
    routerRoom: (room) => async (path, init) => {
      const shard = /!shard-(\d+)$/.exec(room)?.[1];
      if (shard === undefined) return new Promise<Response>(() => {});
      // A write POSTed to its holder goes on to the leader (shard-writes.ts); the checks are GETs.
      if (init.method === "POST" && Number(shard) === holder) return posted.push(holder), edge.leader(path, init);
      if (init.method === "POST") return new Response(null, { status: 404, headers: { "x-party-shard-holder": "none" } });
      asked.push(Number(shard));
      return new Response(null, { status: Number(shard) === holder ? 204 : 404 });
    },
    toShard: async (shardRoom) => {
      placed.push(Number(/!shard-(\d+)$/.exec(shardRoom)![1]));
      return new Response(null, { status: 204 });
    },
    hook: async (_kind, req) => req,
    shards,
    shardTarget: target,
    viewToken: undefined,
  };
  return { edge, placed, asked, posted };
}

const socket = (id: string) => new Request(`http://host/parties/router/lobby?_pk=${encodeURIComponent(id)}`, { headers: { upgrade: "websocket" } });

function perShard(placed: number[], shards: number): number[] {
  const counts = new Array<number>(shards).fill(0);
  for (const shard of placed) counts[shard - 1]! += 1;
  return counts;
}

describe("shards in use follow the room's clients", () => {
  it("a room of a few clients uses one shard; the next opens once those in use hold the target each", () => {
    assert.equal(shardsInUse([0, 0, 0, 0], 250), 1);
    assert.equal(shardsInUse([3, 0, 0, 0], 250), 1);
    assert.equal(shardsInUse([249, 0, 0, 0], 250), 1, "the 250th client still fits");
    assert.equal(shardsInUse([250, 0, 0, 0], 250), 2, "the 251st opens shard 2");
    assert.equal(shardsInUse([250, 250, 250, 250], 250), 4, "never more than the router has");
  });

  it("without a target (a router generated before them) every shard is in use", () => {
    assert.equal(shardsInUse([0, 0, 0, 0], undefined), 4);
  });

  it("shrinks only well below what the shards holding clients take: no shard opens and closes with each connect", () => {
    // 8 shards held 2,000; 3 clients are left, on shards 3, 5 and 8.
    assert.equal(shardsInUse([0, 0, 1, 0, 1, 0, 0, 1], 250), 1);
    // 4 shards hold 400: 2 would do, but 400 is above half of the 3 × 250 the other shards take.
    assert.equal(shardsInUse([100, 100, 100, 100], 250), 4);
    // At 200 it is below: shards 2–4 stop taking clients, and keep theirs.
    assert.equal(shardsInUse([50, 50, 50, 50], 250), 1);
  });

  it("a new client goes only to shards in use; a reconnecting one returns to its shard only while that shard is in use", () => {
    assert.equal(chooseShard("anyone", [0, 0, 1, 0, 1, 0, 0, 1], undefined, 250), 1);
    assert.equal(chooseShard("back", [0, 0, 1, 0, 1, 0, 0, 1], 5, 250), 1, "shard 5 is out of use");
    assert.equal(chooseShard("back", [200, 0, 0, 0], 1, 250), 1);
  });

  it("2,000 connects with a target of 250 use 8 of 16 shards, within 1.05 of even; the shards beyond get nobody", async () => {
    const { edge, placed } = targetEdge(16, 250);
    for (let i = 0; i < 2_000; i++) await edgeConnect(socket(`grow-${i}`), edge);
    const counts = perShard(placed, 16);
    const used = counts.filter((count) => count > 0);
    assert.equal(used.length, 8, `${counts}`);
    assert.deepEqual(counts.slice(8), new Array(8).fill(0));
    const mean = used.reduce((a, b) => a + b) / used.length;
    assert.ok(Math.max(...used) / mean <= 1.05, `max/mean ${(Math.max(...used) / mean).toFixed(3)}: ${counts}`);
  });

  it("3 connects with a target of 250 use 1 shard; with no target they spread over all 4, as before", async () => {
    const elastic = targetEdge(4, 250);
    const spread = targetEdge(4, undefined);
    for (let i = 0; i < 3; i++) {
      await edgeConnect(socket(`few-${i}`), elastic.edge);
      await edgeConnect(socket(`few-${i}`), spread.edge);
    }
    assert.deepEqual(perShard(elastic.placed, 4), [3, 0, 0, 0]);
    assert.equal(perShard(spread.placed, 4).filter((count) => count > 0).length, 3);
  });
});

describe("a write's holder is looked for on the shards in use first: an empty shard is not woken for it", () => {
  const write = (id: string) =>
    new Request("http://host/parties/router/lobby", { method: "POST", body: "hi", headers: { "x-party-shard-connection": id, "x-party-shard-key": "k".repeat(32), "x-party-shard-seq": "1" } });

  it("clients on shard 1 of 16: a write without a hint goes to shard 1 alone, placed there by this isolate", async () => {
    const { edge, asked, posted } = targetEdge(16, 250, 1);
    for (let i = 0; i < 5; i++) await edgeConnect(socket(`w-${i}`), edge);
    const res = (await edgeRequest(write("w-0"), edge)) as Response;
    assert.equal(res.status, 200);
    assert.deepEqual([asked, posted], [[], [1]]);
  });

  it("a writer this isolate did not place (another isolate did): the other shards are asked next, and it is found", async () => {
    const { edge, asked } = targetEdge(16, 250, 9);
    for (let i = 0; i < 5; i++) await edgeConnect(socket(`v-${i}`), edge);
    const res = (await edgeRequest(write("elsewhere"), edge)) as Response;
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-party-shard-holder"), "9");
    assert.equal(asked[0], 1);
    assert.deepEqual(asked.slice(1).sort((a, b) => a - b), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });
});

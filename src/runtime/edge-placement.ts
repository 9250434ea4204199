/**
 * Placement at the edge: the isolate serving a client's connect picks the shard itself
 * (shard-choice.ts), so no connect waits on the router's room `<room>`, however many come at once.
 *
 * - what the isolate knows lives in module memory, per room (at most MAX_ROOMS, the least
 *   recently used dropped): the router's room's last counts, and the placements made here since;
 * - the counts are refreshed in the background, at most once per REFRESH_MS per room and only
 *   while clients connect; the connect never waits for them, and a failure is only logged (the
 *   isolate's own counts carry on). With no counts yet, its own placements alone: with none
 *   either, the client's first choice. On one isolate (a dev server) a burst comes out even;
 * - a client id returns to the shard this isolate last placed it on while that shard has room
 *   (STICKY_MEMORY ids over all rooms);
 * - the client never names its shard: the choice hangs on its id and the counts only.
 */
import type { Edge } from "./host.js";
import { HEADER } from "./protocol.js";
import { ShardLoads, chooseShard } from "./shard-choice.js";

/** Rooms an isolate keeps counts for. */
const MAX_ROOMS = 256;
/** Placements an isolate counts per room until the router's counts include them (shard-choice.ts). */
const MAX_RECENT = 4_096;
/** Client ids an isolate remembers the shard of, over all rooms (ids and room ids ≤ 128 characters). */
const STICKY_MEMORY = 20_000;
/** The least time between two refreshes of a room's counts; and after how long one still unanswered no longer holds up the next. */
const REFRESH_MS = 1_000;
const REFRESH_GIVE_UP_MS = 10_000;

interface RoomMemory {
  loads: ShardLoads;
  /** When the last refresh was sent, its number, and whether it is still on its way. */
  refreshedAt: number;
  refreshes: number;
  refreshing: boolean;
}

/** Per room, the least recently used first. */
const rooms = new Map<string, RoomMemory>();
/** `<room> <client id>` → shard, the least recently placed first. */
const sticky = new Map<string, number>();

/** The shard for a client connecting to `edge.room`, of `shards`; undefined when every shard is full. */
function placeAtEdge(edge: Edge, shards: number, clientId: string): number | undefined {
  const now = Date.now();
  const memory = roomMemory(edge.room, shards);
  if (now - memory.refreshedAt >= (memory.refreshing ? REFRESH_GIVE_UP_MS : REFRESH_MS)) refresh(edge, memory, now);
  // A space never appears in a room id (the edge's ROOM_ID_PATTERN).
  const key = `${edge.room} ${clientId}`;
  const shard = chooseShard(clientId, memory.loads.estimate(now), sticky.get(key), edge.shardTarget);
  if (shard === undefined) return undefined;
  memory.loads.placed(shard, now);
  sticky.delete(key);
  sticky.set(key, shard);
  if (sticky.size > STICKY_MEMORY) sticky.delete(sticky.keys().next().value!);
  return shard;
}

/**
 * The shards this isolate counts clients on, for `room` of `shards`: where a writer's socket
 * most likely is. Every shard when it knows nothing of the room.
 */
function shardsHolding(room: string, shards: number): number[] {
  const memory = rooms.get(room);
  const all = Array.from({ length: shards }, (_, i) => i + 1);
  if (memory?.loads.shardCount !== shards) return all;
  const load = memory.loads.estimate();
  return all.filter((shard) => load[shard - 1]! > 0);
}

/** The shard this isolate last placed client `clientId` of `room` on, if it remembers: where a writer's socket most likely is. */
function placedHere(room: string, clientId: string): number | undefined {
  return sticky.get(`${room} ${clientId}`);
}

function roomMemory(room: string, shards: number): RoomMemory {
  let memory = rooms.get(room);
  rooms.delete(room);
  if (memory?.loads.shardCount !== shards) memory = { loads: new ShardLoads(shards, MAX_RECENT), refreshedAt: -Infinity, refreshes: 0, refreshing: false };
  rooms.set(room, memory);
  if (rooms.size > MAX_ROOMS) rooms.delete(rooms.keys().next().value!);
  return memory;
}

/** Asks the router's room for its counts, without waiting: the platform keeps the request alive where it can (waitUntil). */
function refresh(edge: Edge, memory: RoomMemory, now: number) {
  memory.refreshedAt = now;
  memory.refreshing = true;
  const number = ++memory.refreshes;
  const asked = (async () => {
    const res = await edge.routerRoom(edge.room)("", { method: "GET", headers: { [HEADER.counts]: "1" } });
    const { load } = (await res.json()) as { load?: unknown };
    if (!res.ok || !Array.isArray(load) || load.length !== memory.loads.shardCount || !load.every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw new Error(`answered ${res.status} without its counts`);
    }
    // The answer to a refresh given up on: a later one is on its way, with newer counts.
    if (number === memory.refreshes) load.forEach((count: number, i) => memory.loads.tell(i + 1, count));
  })()
    .catch((error: unknown) => console.error(`party-shard: the router's room ${edge.room} did not give its counts; placing by this isolate's own`, error))
    .finally(() => {
      if (number === memory.refreshes) memory.refreshing = false;
    });
  edge.waitUntil?.(asked);
}

export { placeAtEdge, placedHere, shardsHolding };

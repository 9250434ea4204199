/**
 * The router's load view (GET /parties/<router>/<room> with the deploy's view token), read
 * defensively: the runtime's counters are being added (under `leader`: events, messages, writes,
 * linkFramesIn, linkFramesOut, storageOps; `perShard: [{ clients, startedAt, storageOps, writeRequests }]`), so every field
 * may be missing, and a missing one is undefined here and "—" in the table.
 */
import { VIEW_TOKEN_HEADER } from "../../src/infra/dev-process.js";

export interface ShardView {
  clients?: number;
  startedAt?: number;
  storageOps?: number;
  writeRequests?: number;
}

export interface LoadView {
  /** When the placement room last started (an eviction changes it). */
  since?: number;
  /** Clients per shard as placement counts them. */
  load?: number[];
  leader: Record<string, number>;
  perShard?: ShardView[];
}

export async function readView(host: string, router: string, room: string, token: string): Promise<LoadView | undefined> {
  try {
    const res = await fetch(`http://${host}/parties/${router}/${room}`, { headers: { [VIEW_TOKEN_HEADER]: token } });
    if (!res.ok) return undefined;
    const view = (await res.json()) as Record<string, unknown>;
    return {
      since: numberOr(view.since),
      load: Array.isArray(view.load) && view.load.every((n) => typeof n === "number") ? view.load : undefined,
      leader: numbersOf(view.leader),
      perShard: Array.isArray(view.perShard) ? view.perShard.map((shard) => numbersOf(shard) as ShardView) : undefined,
    };
  } catch {
    return undefined;
  }
}

/** The object's numeric fields: anything else is left out. */
function numbersOf(value: unknown): Record<string, number> {
  if (typeof value !== "object" || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter(([, n]) => typeof n === "number" && Number.isFinite(n))) as Record<string, number>;
}

function numberOr(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** How much a leader counter grew between two views, per `per` events; undefined when either view lacks it. */
export function leaderRate(before: LoadView | undefined, after: LoadView | undefined, name: string, per: number): number | undefined {
  const a = before?.leader[name];
  const b = after?.leader[name];
  return a === undefined || b === undefined || per === 0 ? undefined : (b - a) / per;
}

/** Storage operations of the leader and, where shown, the shards, per `per` events. */
export function storageRate(before: LoadView | undefined, after: LoadView | undefined, per: number): number | undefined {
  const leader = leaderRate(before, after, "storageOps", per);
  if (leader === undefined) return undefined;
  return leader + (shardsTotal(after, "storageOps") - shardsTotal(before, "storageOps")) / per;
}

/** The router's write requests to the shards (key checks and writes) per `per` POSTs; undefined when a shard does not show them. */
export function shardRequestRate(before: LoadView | undefined, after: LoadView | undefined, per: number): number | undefined {
  const shown = (view: LoadView | undefined) => view?.perShard !== undefined && view.perShard.every((shard) => shard.writeRequests !== undefined);
  return !shown(before) || !shown(after) || per === 0 ? undefined : (shardsTotal(after, "writeRequests") - shardsTotal(before, "writeRequests")) / per;
}

function shardsTotal(view: LoadView | undefined, name: "storageOps" | "writeRequests"): number {
  return view?.perShard?.reduce((sum, shard) => sum + (shard[name] ?? 0), 0) ?? 0;
}

/** Clients per shard: the shards' own counts when the view has them, else placement's. */
export function shardClients(view: LoadView | undefined): number[] | undefined {
  const own = view?.perShard?.map((shard) => shard.clients);
  if (own && own.length > 0 && own.every((n) => n !== undefined)) return own as number[];
  return view?.load;
}

/**
 * Which objects lost their memory between `before` (the end of the writes) and `after` (read
 * after the idle time and one more broadcast): placement by its start time, the leader by its start time if
 * shown, else by a counter that went down (its counters live in memory), each shard by its start time. Undefined
 * where the view gives no way to tell.
 */
export function evictions(before: LoadView | undefined, after: LoadView | undefined): { placement?: boolean; leader?: boolean; shards?: boolean[] } {
  const placement = before?.since !== undefined && after?.since !== undefined ? before.since !== after.since : undefined;
  const counters = Object.keys(before?.leader ?? {}).filter((name) => name !== "startedAt" && after?.leader[name] !== undefined);
  const restarted = before?.leader.startedAt !== undefined && after?.leader.startedAt !== undefined ? before.leader.startedAt !== after.leader.startedAt : undefined;
  const leader = restarted ?? (counters.length > 0 ? counters.some((name) => after!.leader[name]! < before!.leader[name]!) : undefined);
  const started = (view: LoadView | undefined) => view?.perShard?.map((shard) => shard.startedAt);
  const was = started(before);
  const now = started(after);
  const shards = was && now && was.length === now.length && was.every((t, i) => t !== undefined && now[i] !== undefined) ? was.map((t, i) => t !== now[i]) : undefined;
  return { placement, leader, shards };
}

/**
 * One measured room of `npm run bench:scale`: a crowd connects at once, W writers broadcast,
 * and (wrangler dev) the crowd idles, then one more broadcast goes out. Sharded rooms are read
 * through the load view before the connects, after them, after the writes and after the idle.
 */
import { readFileSync, readdirSync } from "node:fs";
import type { DevServer } from "../../src/infra/dev-process.js";
import { sleep, until } from "../helpers/wait.js";
import { Crowd } from "./scale-crowd.js";
import type { BroadcastRound } from "./scale-round.js";
import { evictions, leaderRate, readView, shardClients, shardRequestRate, storageRate, type LoadView, type ShardView } from "./scale-view.js";

export const PER_WRITER = 5;

export interface RoomSpec {
  server: DevServer;
  /** Where clients connect: the router (sharded) or the party (direct). */
  party: string;
  room: string;
  /** Set for the sharded room: the router party through which writes go. */
  router?: string;
  /** Sharded: writers send on their own sockets (`--writes socket`), not with sendViaRouter. */
  socketWrites?: boolean;
  /**
   * The router party whose load view to read. For the direct room too: the view shows the counts
   * of the party's room of the same name, which is that room, so its eviction shows.
   */
  viewVia: string;
  /** What every client adds to its connect query. */
  query: Record<string, string>;
  clients: number;
  writers: number;
  /** Idle this long after the writes, then broadcast once more (0: skip). */
  idleMs: number;
}

export interface Measured {
  /** Clients greeted before the deadline. */
  greeted: number;
  /** Sockets made → the last client's welcome; null when some client was never greeted. */
  greetMs: number | null;
  /** 99 % of the clients were greeted by then. */
  greetP99Ms: number | null;
  reconnects: number;
  /** Connects that failed or timed out, and were tried again. */
  connectErrors: number;
  failedWrites: number;
  broadcasts: number;
  deliveryRatio: number;
  duplicates: number;
  outOfOrder: number;
  /** First send → the last receipt; null when some receipt never came. */
  fullDeliveryMs: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  /** Write POSTs per client write (sendViaRouter): sharded only. */
  postsPerWrite?: number;
  leaderEventsPerWrite?: number;
  storageOpsPerWrite?: number;
  storageOpsPerConnect?: number;
  /** The router's requests to the writers' shards per write POST (routed writes). */
  shardRequestsPerPost?: number;
  linkFramesInPerWrite?: number;
  linkFramesOutPerWrite?: number;
  linkFramesInPerConnect?: number;
  linkFramesOutPerConnect?: number;
  perShard?: ShardView[];
  shardClients?: number[];
  idle?: { seconds: number; evicted: ReturnType<typeof evictions>; nextDelivery: number; nextDuplicates: number };
}

/** Counts the write POSTs sendViaRouter makes (it uses the global fetch). */
export const posts = { count: 0 };
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  if (init?.method === "POST") posts.count++;
  return realFetch(input, init);
};

/** CPU time (ms) of this machine's workerd processes: every dev server here runs its rooms in one. */
function workerdCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).startsWith("workerd")) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 10 ms ticks
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

/**
 * Waits until the server is idle (under 5% of a core for half a second), at most 30 s: the room
 * before may still be running its clients' closes, which the next room's connects would
 * otherwise share the process with. Every row waits alike.
 */
async function serverIdle(): Promise<void> {
  const end = Date.now() + 30_000;
  let last = workerdCpuMs();
  while (Date.now() < end) {
    await sleep(500);
    const now = workerdCpuMs();
    if (now - last <= 25) return;
    last = now;
  }
}

export async function measureRoom(spec: RoomSpec): Promise<Measured> {
  const sharded = spec.router !== undefined;
  await serverIdle();
  const view = () => readView(spec.server.host, spec.viewVia, spec.room, spec.server.viewToken);
  // The direct room is read only outside the timed phases, and only to see an eviction.
  const before = sharded ? await view() : undefined;
  const crowd = new Crowd({ host: spec.server.host, party: spec.party, room: spec.room, query: spec.query, clients: spec.clients, router: spec.router, socketWrites: spec.socketWrites });
  try {
    await until(() => crowd.greeted === spec.clients, 60_000 + 120 * spec.clients);
    const greeted = crowd.greeted;
    const greetMs = greeted === spec.clients ? Math.max(...crowd.greetedAt) - crowd.startedAt : null;
    // Every shard has reported its clients, and what the party sends on a join has arrived.
    if (sharded) await until(async () => sum((await view())?.load) >= spec.clients, 10_000);
    await crowd.quiet(300, 60_000);
    const connected = sharded ? await view() : undefined;
    const postsBefore = posts.count;
    const round = crowd.broadcast(1, spec.writers, PER_WRITER);
    await until(() => round.complete, 60_000 + 20 * spec.clients);
    await sleep(500); // late duplicates still count
    const written = sharded || spec.idleMs > 0 ? await view() : undefined;
    const writes = round.broadcasts;
    const measured: Measured = {
      greeted,
      greetMs,
      greetP99Ms: percentile([...crowd.greetedAt].filter((t) => t > 0).map((t) => t - crowd.startedAt).sort((a, b) => a - b), 99),
      reconnects: crowd.reconnects,
      connectErrors: crowd.errors,
      failedWrites: crowd.failedWrites,
      ...deliveryOf(round),
      ...(sharded ? viewRates(before, connected, written, spec.clients, writes, (posts.count - postsBefore) / writes) : {}),
    };
    if (spec.idleMs > 0) measured.idle = await idleThenBroadcast(crowd, spec.idleMs, written, view);
    return measured;
  } finally {
    await crowd.close();
    // The next room starts on a settled server: the shards have reported every close.
    if (sharded) await until(async () => sum((await view())?.load) === 0, 30_000);
    await sleep(1_000);
  }
}

function deliveryOf(round: BroadcastRound) {
  const latencies = round.latencies().sort((a, b) => a - b);
  return {
    broadcasts: round.broadcasts,
    deliveryRatio: round.receipts / round.expected,
    duplicates: round.duplicates + round.echoes,
    outOfOrder: round.outOfOrder,
    fullDeliveryMs: round.complete ? round.lastReceiptAt - round.firstSentAt : null,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

function viewRates(before: LoadView | undefined, connected: LoadView | undefined, written: LoadView | undefined, clients: number, writes: number, postsPerWrite: number) {
  return {
    postsPerWrite,
    leaderEventsPerWrite: leaderRate(connected, written, "events", writes),
    storageOpsPerWrite: storageRate(connected, written, writes),
    storageOpsPerConnect: storageRate(before, connected, clients),
    shardRequestsPerPost: postsPerWrite > 0 ? shardRequestRate(connected, written, postsPerWrite * writes) : undefined,
    linkFramesInPerWrite: leaderRate(connected, written, "linkFramesIn", writes),
    // Today's runtime counts the frames it sends with broadcasts as `shardFrames`.
    linkFramesOutPerWrite: leaderRate(connected, written, "linkFramesOut", writes) ?? leaderRate(connected, written, "shardFrames", writes),
    linkFramesInPerConnect: leaderRate(before, connected, "linkFramesIn", clients),
    linkFramesOutPerConnect: leaderRate(before, connected, "linkFramesOut", clients) ?? leaderRate(before, connected, "shardFrames", clients),
    perShard: written?.perShard,
    shardClients: shardClients(connected),
  };
}

/** The crowd stays connected and silent for `idleMs`; then one client broadcasts once, which everyone else must get once. */
async function idleThenBroadcast(crowd: Crowd, idleMs: number, written: LoadView | undefined, view: () => Promise<LoadView | undefined>) {
  await sleep(idleMs);
  const round = crowd.broadcast(2, 1, 1);
  await until(() => round.complete, 30_000);
  await sleep(500);
  const after = await view();
  return { seconds: idleMs / 1000, evicted: evictions(written, after), nextDelivery: round.receipts / round.expected, nextDuplicates: round.duplicates + round.echoes };
}

function sum(values: number[] | undefined): number {
  return values?.reduce((a, b) => a + b, 0) ?? 0;
}

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

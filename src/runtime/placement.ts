/**
 * Placement: the router's room `<room>` chooses a shard for each connecting client and keeps
 * how many clients each shard holds.
 *
 * - a client returns to its shard while that shard has room (sticky, STICKY_MEMORY ids);
 *   otherwise it goes to the less loaded of its two rendezvous-hash choices;
 * - counts come from the shards' own numbered reports, so an eviction of this room loses
 *   nothing: it asks the shards again when it starts;
 * - a shard that fails or is slow to answer then blocks nobody: start waits at most START_ASK_MS
 *   and never throws, and that shard's count comes with its next report;
 * - memory is bounded: STICKY_MEMORY placements and MAX_PENDING pending ones (ids ≤ 128 chars).
 */
import { json } from "./edge.js";
import type { RoomFetch } from "./host.js";
import { HEADER, shardRoomId } from "./protocol.js";
import type { LoadReport } from "./protocol.js";

/** Placement skips a shard holding this many connections. */
const MAX_CONNECTIONS_PER_SHARD = 10_000;
/** How many connections a client's preferred shard may hold above the emptiest one (0 = even). */
const BALANCE_SLACK = 0;
/** Client ids remembered so a reconnecting client returns to its shard. */
const STICKY_MEMORY = 50_000;
/** A placement counts toward its shard's load until the shard reports the client, or this long. */
const PENDING_MS = 10_000;
/** Placements counted as pending at most; past it the oldest stops counting (a flood of connects cannot grow memory). */
const MAX_PENDING = 20_000;
/** How long start waits for a shard's count. */
const START_ASK_MS = 5_000;

/** The router's room `<room>`: where each client goes, and how many clients each shard holds. */
class Placement {
  /** Connections per shard; index 0 is shard 1. Each shard reports its own count as it changes. */
  private load: number[];
  /** Clients placed but not yet reported by their shard: a handshake that fails never counts for long. */
  private readonly pending = new Map<string, { shard: number; expires: number }>();
  /** Pending placements per shard (index 0 is shard 1): a connect costs O(shards), not O(pending). */
  private readonly pendingCount: number[];
  /** The latest report taken from each shard. */
  private readonly lastReport: ({ from: string; n: number } | undefined)[] = [];
  /** Shard each client id was placed on, oldest first. */
  private readonly placements = new Map<string, number>();
  /** When this room last started: operators can tell an eviction from the view. */
  private readonly since = Date.now();

  constructor(
    private readonly room: string,
    /** The sharded party's name, shown in the load view. */
    private readonly party: string,
    private readonly shardCount: number,
    /** A room of the router's party, and the leader (the sharded party's room of the same name). */
    private readonly routerRoom: (room: string) => RoomFetch,
    private readonly leader: RoomFetch,
  ) {
    this.load = new Array<number>(shardCount).fill(0);
    this.pendingCount = new Array<number>(shardCount).fill(0);
  }

  /**
   * After an eviction the counts are gone from memory: the shards know them. A shard that cannot
   * say (restarting, failing, slow) keeps no one waiting: PartyServer runs a failed start again
   * before every event, so one bad shard would refuse every connect.
   */
  async start() {
    const counts = await Promise.allSettled(this.load.map((_, i) => this.askCount(i + 1)));
    counts.forEach((count, i) => {
      // A report taken meanwhile is newer than the answer.
      if (count.status === "fulfilled" && this.lastReport[i] === undefined) this.load[i] = count.value;
      if (count.status === "rejected") console.error(`party-shard: shard ${i + 1} of room ${this.room} did not give its count; it counts from its next report`, count.reason);
    });
  }

  private async askCount(shard: number): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${START_ASK_MS} ms`)), START_ASK_MS)));
    try {
      const res = await Promise.race([this.routerRoom(shardRoomId(this.room, shard))("", { method: "GET" }), late]);
      const { connections } = (await Promise.race([res.json(), late])) as { connections?: unknown };
      if (!res.ok || typeof connections !== "number" || !Number.isSafeInteger(connections) || connections < 0) throw new Error(`answered ${res.status} without a count`);
      return connections;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  async onRequest(req: Request): Promise<Response> {
    const placeFor = req.headers.get(HEADER.place);
    if (placeFor !== null) return this.place(placeFor);
    const reported = req.headers.get(HEADER.load);
    if (reported !== null) {
      this.takeReport(JSON.parse(decodeURIComponent(reported)) as LoadReport);
      return new Response(null, { status: 204 });
    }
    return json(200, { room: this.room, party: this.party, shards: this.shardCount, load: this.load, since: this.since, leader: await this.leaderStats() });
  }

  /** What the leader sent its shards; null before the party is wrapped by migrate. */
  private async leaderStats(): Promise<unknown> {
    // A leader that throws (on PartyServer, a room whose onStart fails) shows no stats: what it
    // said is for the server log, never the view, which anyone may read.
    const res = await this.leader("", { method: "GET", headers: { [HEADER.stats]: "1" } }).catch((error: unknown) => {
      console.error(`party-shard: room ${this.room} did not answer for its stats`, error);
      return undefined;
    });
    if (!res) return null;
    return res.ok && res.headers.get("content-type")?.includes("json") ? res.json().catch(() => null) : null;
  }

  /** A shard's own count replaces ours, unless a later report from it came first. */
  private takeReport(report: LoadReport) {
    this.unpend(report.id);
    const last = this.lastReport[report.shard - 1];
    if (report.shard < 1 || report.shard > this.shardCount || (last?.from === report.from && last.n > report.n)) return;
    this.lastReport[report.shard - 1] = { from: report.from, n: report.n };
    this.load[report.shard - 1] = report.count;
  }

  /** Sticky while the client's shard has room; otherwise the less loaded of the client's two shards. */
  private place(clientId: string): Response {
    const previous = this.placements.get(clientId);
    const shard = previous !== undefined && this.hasRoom(previous) ? previous : this.choose(clientId);
    if (shard === undefined) return json(503, { error: "Every shard is full" }, { "retry-after": "5" });
    // Counted now so a burst of connects spreads out, until the shard reports the client.
    this.unpend(clientId);
    this.pending.set(clientId, { shard, expires: Date.now() + PENDING_MS });
    this.pendingCount[shard - 1]! += 1;
    if (this.pending.size > MAX_PENDING) this.unpend(this.pending.keys().next().value!);
    this.placements.delete(clientId);
    this.placements.set(clientId, shard);
    if (this.placements.size > STICKY_MEMORY) this.placements.delete(this.placements.keys().next().value!);
    return json(200, { shard });
  }

  private choose(clientId: string): number | undefined {
    const load = this.effectiveLoad();
    const open = rendezvousOrder(clientId, this.shardCount).filter((shard) => load[shard - 1]! < MAX_CONNECTIONS_PER_SHARD);
    const [first, second = first] = open;
    if (first === undefined || second === undefined) return undefined;
    const preferred = load[second - 1]! < load[first - 1]! ? second : first;
    const least = Math.min(...open.map((shard) => load[shard - 1]!));
    if (load[preferred - 1]! <= least + BALANCE_SLACK) return preferred;
    return open.find((shard) => load[shard - 1] === least);
  }

  private hasRoom(shard: number): boolean {
    return this.effectiveLoad()[shard - 1]! < MAX_CONNECTIONS_PER_SHARD;
  }

  /** Reported connections plus placements still on their way. */
  private effectiveLoad(): number[] {
    // The map is in placement order, so in expiry order: the expired ones are its head.
    const now = Date.now();
    for (const [clientId, { expires }] of this.pending) {
      if (expires > now) break;
      this.unpend(clientId);
    }
    return this.load.map((count, i) => count + this.pendingCount[i]!);
  }

  private unpend(clientId: string) {
    const pending = this.pending.get(clientId);
    if (!pending) return;
    this.pending.delete(clientId);
    this.pendingCount[pending.shard - 1]! -= 1;
  }
}

/** Shards ordered by a rendezvous hash of the client id: the first two are its two choices. */
function rendezvousOrder(clientId: string, shardCount: number): number[] {
  const scored = Array.from({ length: shardCount }, (_, i) => ({ shard: i + 1, score: hash32(`${clientId}#${i + 1}`) }));
  return scored.sort((a, b) => b.score - a.score || a.shard - b.shard).map(({ shard }) => shard);
}

/** FNV-1a with a murmur3 finaliser, so similar ids spread evenly. */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

export { Placement };

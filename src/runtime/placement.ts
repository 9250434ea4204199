/**
 * The router's room `<room>`: it keeps how many clients each shard holds, for the edge to place
 * clients by (edge-placement.ts) and for the operator's load view; a router generated before it
 * said its shard count still asks it to place each client.
 *
 * - counts come from the shards' own numbered reports, so an eviction of this room loses
 *   nothing: it asks the shards again when it starts;
 * - a shard that fails or is slow to answer then blocks nobody: start waits at most START_ASK_MS
 *   and never throws, and that shard's count comes with its next report;
 * - placing (older routers) follows shard-choice.ts: a client returns to its shard while that
 *   shard has room (STICKY_MEMORY ids), else the less loaded of its two choices;
 * - memory is bounded: STICKY_MEMORY placements and MAX_RECENT recent ones (ids ≤ 128 chars).
 */
import { json } from "./edge.js";
import type { RoomFetch } from "./host.js";
import { HEADER, shardRoomId, withTimeout } from "./protocol.js";
import type { LoadReport } from "./protocol.js";
import { ShardLoads, chooseShard, shardsInUse } from "./shard-choice.js";

/** Client ids remembered so a reconnecting client returns to its shard. */
const STICKY_MEMORY = 50_000;
/** Placements counted as recent at most (shard-choice.ts): a flood of connects cannot grow memory. */
const MAX_RECENT = 20_000;
/** How long start waits for a shard's count. */
const START_ASK_MS = 5_000;

/** What a shard says of itself when asked: its clients, when its current incarnation started, and its storage operations and the router's write requests since. */
interface ShardCount {
  connections: number;
  startedAt: number | null;
  storageOps: number | null;
  writeRequests: number | null;
}

/** The router's room `<room>`: how many clients each shard holds, and (older routers) where each client goes. */
class Placement {
  /** Connections per shard as the shards report them, plus this room's own placements since. */
  private readonly loads: ShardLoads;
  /** When each shard's current incarnation started, as it said; null before it said. */
  private readonly startedAt: (number | null)[];
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
    /** Clients a shard takes before the next opens (shard-choice.ts); undefined: every shard in use. */
    private readonly target?: number,
  ) {
    this.loads = new ShardLoads(shardCount, MAX_RECENT);
    this.startedAt = new Array<number | null>(shardCount).fill(null);
  }

  /**
   * After an eviction the counts are gone from memory: the shards know them. A shard that cannot
   * say (restarting, failing, slow) keeps no one waiting: PartyServer runs a failed start again
   * before every event, so one bad shard would refuse every connect.
   */
  async start() {
    const counts = await Promise.allSettled(Array.from({ length: this.shardCount }, (_, i) => this.askCount(i + 1)));
    counts.forEach((count, i) => {
      // A report taken meanwhile is newer than the answer.
      if (count.status === "fulfilled" && this.lastReport[i] === undefined) {
        this.loads.tell(i + 1, count.value.connections);
        this.startedAt[i] = count.value.startedAt;
      }
      if (count.status === "rejected") console.error(`party-shard: shard ${i + 1} of room ${this.room} did not give its count; it counts from its next report`, count.reason);
    });
  }

  private askCount(shard: number): Promise<ShardCount> {
    const asked = async (): Promise<ShardCount> => {
      const res = await this.routerRoom(shardRoomId(this.room, shard))("", { method: "GET" });
      const { connections, startedAt, storageOps, writeRequests } = (await res.json()) as { connections?: unknown; startedAt?: unknown; storageOps?: unknown; writeRequests?: unknown };
      if (!res.ok || !isCount(connections)) throw new Error(`answered ${res.status} without a count`);
      const counted = (n: unknown) => (isCount(n) ? n : null);
      return { connections, startedAt: counted(startedAt), storageOps: counted(storageOps), writeRequests: counted(writeRequests) };
    };
    return withTimeout(asked(), START_ASK_MS);
  }

  async onRequest(req: Request): Promise<Response> {
    const placeFor = req.headers.get(HEADER.place);
    if (placeFor !== null) return this.place(placeFor);
    const reported = req.headers.get(HEADER.load);
    if (reported !== null) {
      this.takeReport(JSON.parse(decodeURIComponent(reported)) as LoadReport);
      return new Response(null, { status: 204 });
    }
    const load = this.loads.toldCounts();
    // The edge's refresh: counts only, without asking the leader.
    if (req.headers.has(HEADER.counts)) return json(200, { load });
    // The operator's view asks each shard for its storage operations (reports do not carry
    // them: a report goes only when a count changes); a shard that cannot say shows null.
    const [leader, asked] = await Promise.all([this.leaderStats(), Promise.allSettled(load.map((_, i) => this.askCount(i + 1)))]);
    const perShard = load.map((clients, i) => {
      const answer = asked[i]?.status === "fulfilled" ? asked[i].value : undefined;
      return { clients, startedAt: this.startedAt[i] ?? answer?.startedAt ?? null, storageOps: answer?.storageOps ?? null, writeRequests: answer?.writeRequests ?? null };
    });
    // `inUse`: the shards the next client may go to; `target`: null when every shard is in use.
    const inUse = shardsInUse(this.loads.estimate(), this.target);
    return json(200, { room: this.room, party: this.party, shards: this.shardCount, target: this.target ?? null, inUse, load, perShard, since: this.since, leader });
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
    const last = this.lastReport[report.shard - 1];
    if (!Number.isSafeInteger(report.shard) || report.shard < 1 || report.shard > this.shardCount || (last?.from === report.from && last.n > report.n)) return;
    this.lastReport[report.shard - 1] = { from: report.from, n: report.n };
    this.loads.tell(report.shard, report.count);
    this.startedAt[report.shard - 1] = isCount(report.startedAt) ? report.startedAt : null;
  }

  /** Sticky while the client's shard has room; otherwise the less loaded of the client's two shards. */
  private place(clientId: string): Response {
    const shard = chooseShard(clientId, this.loads.estimate(), this.placements.get(clientId), this.target);
    if (shard === undefined) return json(503, { error: "Every shard is full" }, { "retry-after": "5" });
    // Counted now so a burst of connects spreads out, until the shard's count includes the client.
    this.loads.placed(shard);
    this.placements.delete(clientId);
    this.placements.set(clientId, shard);
    if (this.placements.size > STICKY_MEMORY) this.placements.delete(this.placements.keys().next().value!);
    return json(200, { shard });
  }
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

export { Placement };

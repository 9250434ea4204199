/**
 * Which shard a client goes to, wherever that is decided: at the edge (edge-placement.ts), or in
 * the router's room `<room>` for a router that does not say its shard count (placement.ts).
 *
 * - shards 1..k are in use, k following the room's clients (`shardsInUse`): a room of a few
 *   clients lives on one shard, and a shard opens when those in use hold `target` each;
 * - a rendezvous hash of the client id orders the shards in use; the first two are its two choices,
 *   the same wherever and whenever asked, so a reconnecting client mostly returns;
 * - the less loaded of the two, unless it holds more than BALANCE_SLACK above the emptiest open
 *   shard: then the emptiest (ties go to the first in the client's order);
 * - a shard at MAX_CONNECTIONS_PER_SHARD is skipped; with every shard full there is no choice;
 * - a placer counts what it was last told (a shard's report, the router's view) plus what it
 *   placed since, and never less than what it placed itself within RECENT_MS: what it is told
 *   lags behind its own placements, so on one placer a burst of connects comes out even.
 */

/** Placement skips a shard holding this many connections. */
const MAX_CONNECTIONS_PER_SHARD = 10_000;
/** How many connections a client's preferred shard may hold above the emptiest one (0 = even). */
const BALANCE_SLACK = 0;
/**
 * Shards above those the room needs stop taking clients once the room holds at most this share
 * of what the shards still holding clients would take at target: a room hovering at a boundary
 * does not open and close a shard with every connect. No client ever moves: a shard out of use
 * keeps its clients until they leave.
 */
const SHRINK_BELOW = 0.5;
/** A placement counts toward its shard until a count taken after it arrives, or this long. */
const RECENT_MS = 10_000;

/** One placement: its shard, when, and its number among this placer's placements. */
interface Placed {
  shard: number;
  at: number;
  seq: number;
}

/** Clients per shard as one placer sees them; index 0 is shard 1. Memory: at most `maxRecent` placements. */
class ShardLoads {
  /** The last count told for each shard, and the number of the last placement made before it. */
  private readonly told: number[];
  private readonly toldAfter: number[];
  /** Placements per shard made after its count was told, and within RECENT_MS. */
  private readonly since: number[];
  /** Placements per shard within RECENT_MS. */
  private readonly recent: number[];
  /** Those placements, oldest first, from `head` on. */
  private readonly placements: Placed[] = [];
  private head = 0;
  private seq = 0;

  constructor(
    readonly shardCount: number,
    private readonly maxRecent: number,
  ) {
    this.told = new Array<number>(shardCount).fill(0);
    this.toldAfter = new Array<number>(shardCount).fill(0);
    this.since = new Array<number>(shardCount).fill(0);
    this.recent = new Array<number>(shardCount).fill(0);
  }

  /** A count the shard gave (its report, its answer, the router's view of it): what was placed on it before is in it. */
  tell(shard: number, count: number) {
    this.told[shard - 1] = count;
    this.toldAfter[shard - 1] = this.seq;
    this.since[shard - 1] = 0;
  }

  /** The counts told, as they were told. */
  toldCounts(): number[] {
    return [...this.told];
  }

  placed(shard: number, now = Date.now()) {
    this.placements.push({ shard, at: now, seq: ++this.seq });
    this.recent[shard - 1]! += 1;
    this.since[shard - 1]! += 1;
    if (this.placements.length - this.head > this.maxRecent) this.dropOldest();
  }

  /** Clients per shard: told plus placed since, at least the recent placements. */
  estimate(now = Date.now()): number[] {
    while (this.head < this.placements.length && this.placements[this.head]!.at <= now - RECENT_MS) this.dropOldest();
    return this.told.map((count, i) => Math.max(count + this.since[i]!, this.recent[i]!));
  }

  private dropOldest() {
    const { shard, seq } = this.placements[this.head++]!;
    this.recent[shard - 1]! -= 1;
    if (seq > this.toldAfter[shard - 1]!) this.since[shard - 1]! -= 1;
    // Compacted now and then: the array never holds much more than maxRecent.
    if (this.head > 1_024 && this.head * 2 > this.placements.length) {
      this.placements.splice(0, this.head);
      this.head = 0;
    }
  }
}

/**
 * How many shards take new clients, given clients per shard (`load`, index 0 is shard 1) and the
 * clients a shard takes before the next opens (`target`; undefined: every shard, as routers
 * generated before targets did). Grows as soon as the room, with the client connecting, passes
 * `target` a shard; shrinks only under SHRINK_BELOW of what the shards holding clients take.
 */
function shardsInUse(load: readonly number[], target: number | undefined): number {
  if (target === undefined) return load.length;
  let clients = 1;
  let held = 0;
  load.forEach((count, i) => {
    clients += count;
    if (count > 0) held = i + 1;
  });
  const needed = Math.min(load.length, Math.max(1, Math.ceil(clients / target)));
  if (needed >= held || clients <= (held - 1) * target * SHRINK_BELOW) return needed;
  return held;
}

/**
 * The shard for `clientId` given clients per shard (`load`, index 0 is shard 1) and the target a
 * shard (shardsInUse): `previous` (the shard it was last placed on) while it is in use and has
 * room, else the rule above among the shards in use; undefined when all are full.
 */
function chooseShard(clientId: string, load: readonly number[], previous?: number, target?: number): number | undefined {
  const inUse = shardsInUse(load, target);
  if (previous !== undefined && previous >= 1 && previous <= inUse && load[previous - 1]! < MAX_CONNECTIONS_PER_SHARD) return previous;
  const open = rendezvousOrder(clientId, load.length).filter((shard) => shard <= inUse && load[shard - 1]! < MAX_CONNECTIONS_PER_SHARD);
  const [first, second = first] = open;
  if (first === undefined || second === undefined) return undefined;
  const preferred = load[second - 1]! < load[first - 1]! ? second : first;
  const least = Math.min(...open.map((shard) => load[shard - 1]!));
  if (load[preferred - 1]! <= least + BALANCE_SLACK) return preferred;
  return open.find((shard) => load[shard - 1] === least);
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

export { MAX_CONNECTIONS_PER_SHARD, RECENT_MS, ShardLoads, chooseShard, hash32, rendezvousOrder, shardsInUse };

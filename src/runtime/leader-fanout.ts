/**
 * The leader's frames to its shards: what the party sends, broadcasts and closes.
 *
 * Costs and bounds:
 * - a broadcast is one frame per shard that holds a recipient, whatever its number of clients,
 *   and costs the leader O(shards + excluded ids), not O(clients) (Audience);
 *   while writes are being handed to the party, or relayed messages are arriving, broadcasts and
 *   sends to a shard are held and go as one frame (at most COALESCE_MAX_MS, COALESCE_MAX_BYTES),
 *   and one message the party sends to many sockets one by one (as Yjs servers send each update
 *   and awareness change) goes once per shard with the list of its recipients;
 * - a shard sees the party's frames in the order the party made them: any other frame to that
 *   shard sends what is held first;
 * - every frame to a shard is numbered and kept until the shard says it got it (`got`), and sent
 *   again on its next link from the first it did not get: a link that breaks loses nothing, and
 *   the shard takes each number once (KEPT_MAX_BYTES; past it, the shard's clients are closed to
 *   reconnect, unless it got everything); a shard whose link is down is woken to link again;
 * - nothing goes to a shard for clients that left it: a send to a client whose close came (also
 *   while the send was held) is dropped, as the shard would drop it, so that a shard whose link
 *   closed with its last client is not woken, linked and kept awake for nothing.
 */
import type { LeaderHost, LinkEnd } from "./host.js";
import { frameBytes, pack, unpack, wireBytes, type Wire } from "./link-frames.js";
import { LinkOutbox } from "./link-outbox.js";
import { HEADER, LINK_MAX_BYTES, encode, linkShard, shardRoomId } from "./protocol.js";
import type { BroadcastItem, Data, LeaderFrame, Message, SendItem } from "./protocol.js";

/** Bytes of frames kept for a shard until it says it got them, and the newest frame on top. */
const KEPT_MAX_BYTES = 8_388_608;
/** A shard says what it got once its frames pause (shard-inbox.ts); past this many bytes kept, a mark asks it at once. */
const KEPT_ASK_BYTES = KEPT_MAX_BYTES / 4;
/** A shard whose link is down is woken at most this often while frames wait for it. */
const WAKE_EVERY_MS = 1_000;
/**
 * While the leader hands a batch of writes to the party, or messages relayed by shards are
 * arriving, the party's broadcasts to a shard wait to go as one frame: at most this long, and
 * this many UTF-8 bytes, well below LINK_MAX_BYTES.
 */
const COALESCE_MAX_MS = 50;
const COALESCE_MAX_BYTES = 262_144;

/** What the leader knows of one shard. */
interface ShardState {
  incarnation: string;
  /** The number of the latest hello taken from this incarnation: an older one came late, on a link since replaced. */
  hellos: number;
  /** The last frame from this shard taken in; anything at or below it is a repeat. */
  processed: number;
  linkId: string | undefined;
  /** The last number given to a frame for this shard. */
  n: number;
  /** Frames (as sent, numbered) the shard has not said it got, and their size. */
  kept: { n: number; wire: Wire; bytes: number }[];
  keptBytes: number;
  /** Frames up to this number were dropped from `kept` (KEPT_MAX_BYTES): unless the shard got them, its clients are closed at its next hello. 0: none. */
  droppedUpTo: number;
  /** When the shard was last woken to link again. */
  wokeAt: number;
  /** Its hello said it takes frames sent together in one link message (link-outbox.ts). */
  batches?: boolean;
  /** A mark went to ask what it got, as `kept` passed KEPT_ASK_BYTES; cleared when it says. */
  asked?: boolean;
}

/** Who a broadcast reaches on the shards, kept by the leader as clients come and go. */
interface Audience {
  /** The ids of the clients the party has met, per shard: only they get broadcasts. */
  readonly met: ReadonlyMap<number, ReadonlySet<string>>;
  /** A client's shard, and whether the party has met it; undefined for an id on no shard. */
  find(id: string): { shard: number; met: boolean } | undefined;
  /** Ids whose reconnect's open on `shard` waits (leader-replace.ts): its socket there is not the party's yet. */
  waitingOn(shard: number): string[];
}

/** Broadcasts and sends held to go as one frame to a shard (see COALESCE_MAX_MS). */
interface Held {
  items: (BroadcastItem | SendItem)[];
  bytes: number;
}
type Holdable = Extract<LeaderFrame, { t: "broadcast" | "send" }>;

class Fanout {
  /** Names this leader's memory to its shards: a new one numbers its frames afresh. */
  readonly incarnation = crypto.randomUUID();
  /** For the load view: `linkFramesOut` counts every link message the leader sends, acks and resyncs included. */
  readonly stats = { broadcasts: 0, shardFrames: 0, largestShardFrameBytes: 0, linkFramesOut: 0 };
  /** Batches of writes being handed to the party now; while any is, broadcasts to each shard are held. */
  batches = 0;
  /** Relayed messages arrived this timer turn: their broadcasts are held until it ends. */
  private holding = false;
  private readonly held = new Map<number, Held>();
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly outbox = new LinkOutbox(() => this.stats.linkFramesOut++);

  constructor(
    private readonly host: LeaderHost,
    private readonly shards: Map<number, ShardState>,
    private readonly roomId: () => string,
    /** Who is on which shard now: what a broadcast reaches, and whether a send still has its recipient. */
    private readonly audience: Audience,
    /** A shard said on its link that it got every frame up to `n`, after every frame it relayed before it got frame `n` (not so a hello's). */
    private readonly heard: (shard: number, n: number) => void = () => undefined,
  ) {}

  /** A batch of writes is being handed to the party: broadcasts are held until it ends. */
  beginBatch() {
    this.batches++;
  }
  endBatch() {
    if (--this.batches === 0 && !this.holding) this.releaseHeld();
  }

  /** Direct clients one by one; each shard gets one frame, whatever its number of clients. */
  broadcast(message: Message, without: readonly string[]) {
    const excluded = new Set(without);
    for (const conn of this.host.directConnections()) if (!excluded.has(conn.id)) conn.send(message);
    // The ids left out, by shard; and how many of them the party met (they count as recipients).
    const left = new Map<number, { skipped: string[]; met: number }>();
    excluded.forEach((id) => {
      const found = this.audience.find(id);
      if (!found) return;
      const entry = left.get(found.shard) ?? { skipped: [], met: 0 };
      entry.skipped.push(id);
      if (found.met) entry.met++;
      left.set(found.shard, entry);
    });
    this.stats.broadcasts++;
    let data: Data | undefined;
    let dataBytes = 0;
    this.audience.met.forEach((met, shard) => {
      const { skipped: out, met: metSkipped } = left.get(shard) ?? { skipped: [], met: 0 };
      const waiting = this.audience.waitingOn(shard);
      const skipped = waiting.length > 0 ? out.concat(waiting) : out;
      if (met.size <= metSkipped) return;
      // Encoded and measured once per broadcast, whatever the number of shards.
      if (data === undefined) {
        data = encode(message);
        dataBytes = frameBytes({ t: "broadcast", data, without: [], upTo: 0 });
      }
      // The item's other fields: ids at most 3 bytes a UTF-16 unit, and the upTo number.
      const bytes = dataBytes + 3 * JSON.stringify(skipped).length + 64;
      this.toShard(shard, { t: "broadcast", data, without: skipped, upTo: this.shards.get(shard)?.processed ?? 0 }, bytes);
    });
  }

  toShard(shard: number, frame: LeaderFrame, bytes = 0) {
    const state = this.shards.get(shard);
    if (!state) return;
    if (frame.t === "send" && !this.onShard(frame.to, shard)) return;
    if ((frame.t === "broadcast" || frame.t === "send") && (this.batches > 0 || this.holding)) return this.hold(shard, frame, bytes);
    // A connection's kept data only goes to the shard's storage and no client sees it, nor a
    // write's answer: held broadcasts need not go before them (a write's number is kept once per request).
    if (frame.t === "keep" || frame.t === "taken" || frame.t === "wrote") return this.sendToShard(shard, state, frame);
    // Held broadcasts go first: a shard sees the party's frames in the order it sent them.
    this.releaseHeld(shard);
    this.sendToShard(shard, state, frame);
  }

  private sendToShard(shard: number, state: ShardState, frame: LeaderFrame) {
    if (frame.t === "broadcast" || frame.t === "broadcasts") this.stats.shardFrames++;
    const link = state.linkId ? this.host.link(state.linkId) : undefined;
    const wire = pack({ ...frame, n: ++state.n } as LeaderFrame);
    // A UTF-16 unit is at most 3 UTF-8 bytes: only a long text frame is measured.
    const bytes = wireBytes(wire, LINK_MAX_BYTES);
    if (frame.t === "broadcast" || frame.t === "broadcasts") this.stats.largestShardFrameBytes = Math.max(this.stats.largestShardFrameBytes, wireBytes(wire, 0));
    if (bytes > LINK_MAX_BYTES) {
      // Held broadcasts never make such a frame; one message can (text that is mostly escapes grows in JSON).
      console.error(`party-shard: a ${frame.t} frame to shard ${shard} is ${bytes} bytes, over the ${LINK_MAX_BYTES}-byte WebSocket message limit of its link: on Cloudflare the link closes (1009) and that shard's clients miss this message. Keep messages to sharded clients under about ${LINK_MAX_BYTES - 1_024} bytes.`);
    }
    state.kept.push({ n: state.n, wire, bytes });
    state.keptBytes += bytes;
    // The newest frame may take it past the bound (one large message): the older ones must not
    // (a mark asking what the shard got is no reason: it follows them to ask).
    if (state.keptBytes - bytes > KEPT_MAX_BYTES && frame.t !== "mark") {
      // Dropping one frame would leave a client without it (or a shard without a close), unseen.
      console.error(`party-shard: shard ${shard} has not said it got ${KEPT_MAX_BYTES} bytes of frames; unless it got them, its clients will be closed (1013) to reconnect when it links again`);
      state.kept = [];
      state.keptBytes = 0;
      state.droppedUpTo = state.n;
    }
    // A link closing but not yet closed: its close event clears linkId, and the frame waits.
    if (link && link.readyState === 1) this.outbox.send(link, wire, bytes, state.batches === true);
    else if (Date.now() - state.wokeAt >= WAKE_EVERY_MS) this.wakeShard(shard, state);
    if (state.keptBytes > KEPT_ASK_BYTES && !state.asked) {
      state.asked = true;
      this.sendToShard(shard, state, { t: "mark" });
    }
  }

  /** Frames of a shard's earlier incarnation that its new one takes (carriedOver), numbered anew. */
  adopt(shard: number, state: ShardState, frames: LeaderFrame[]) {
    for (const frame of frames) this.sendToShard(shard, state, frame);
  }

  /** The shard said on its link that it got every frame up to `n` (on an older link: it says so again on this one). */
  gotOn(shard: number, link: LinkEnd, n: number) {
    const state = this.shards.get(shard);
    if (state?.linkId !== link.id) return;
    this.got(state, n);
    this.heard(shard, n);
  }

  /** A frame the shard only counts: once it says it got it, whatever it relayed before has come. Its number (undefined: no such shard). */
  mark(shard: number): number | undefined {
    const state = this.shards.get(shard);
    if (!state) return undefined;
    this.sendToShard(shard, state, { t: "mark" });
    return state.n;
  }

  /** The shard got every frame up to `n`: they are kept no longer. */
  private got(state: ShardState, n: number) {
    while (state.kept[0] && state.kept[0].n <= n) state.keptBytes -= state.kept.shift()!.bytes;
    if (state.droppedUpTo > 0 && n >= state.droppedUpTo) state.droppedUpTo = 0;
    if (state.keptBytes <= KEPT_ASK_BYTES) state.asked = false;
  }

  /** An unnumbered frame (an ack, a resync, a welcome) on `link`, in order with the numbered ones. */
  toLink(link: LinkEnd, frame: LeaderFrame) {
    const wire = JSON.stringify(frame);
    const state = this.shards.get(linkShard(link.id));
    this.outbox.send(link, wire, wire.length, state?.linkId === link.id && state.batches === true);
  }

  /**
   * A shard's hello was taken on `link`: the leader names itself (its numbering), then sends
   * again what the shard did not get. True when frames it never got were dropped meanwhile.
   */
  relinked(state: ShardState, link: LinkEnd, hello: { leader?: string | undefined; got?: number | undefined }): boolean {
    this.toLink(link, { t: "welcome", leader: this.incarnation, hibernates: this.host.hibernates, writes: true });
    // A shard that knows another leader (or none) got nothing of this one's.
    this.got(state, hello.leader === this.incarnation ? (hello.got ?? 0) : 0);
    for (const { wire, bytes } of state.kept) this.outbox.send(link, wire, bytes, state.batches === true);
    const lost = state.droppedUpTo > 0;
    state.droppedUpTo = 0;
    return lost;
  }

  /**
   * Relayed messages come one event each: their broadcasts wait until the events already
   * queued have run (one timer turn, about a millisecond), then go as one frame per shard.
   */
  holdAWhile() {
    if (this.holding) return;
    this.holding = true;
    setTimeout(() => {
      this.holding = false;
      if (this.batches === 0) this.releaseHeld();
    }, 0);
  }

  /**
   * `bytes`: the item's UTF-8 size in a frame (or more; 0: measured here, only if it is not merged
   * into the send before it). What is held goes before it would cross the cap.
   */
  private hold(shard: number, frame: Holdable, bytes: number) {
    const waiting = this.held.get(shard);
    const last = waiting?.items.at(-1);
    if (frame.t === "send" && last && "to" in last && sameData(last.data, frame.data)) {
      // The same message to another socket of this shard: one more recipient, not another copy.
      last.to.push(frame.to);
      last.at.push(frame.at ?? null);
      waiting!.bytes += 3 * (frame.to.length + (frame.at?.length ?? 0)) + 8;
      return;
    }
    bytes ||= frameBytes(frame);
    if (waiting && waiting.bytes + bytes > COALESCE_MAX_BYTES) this.releaseHeld(shard);
    if (bytes > COALESCE_MAX_BYTES) {
      // Too big to share a frame: it goes alone, as it would unheld.
      const state = this.shards.get(shard);
      if (state) this.sendToShard(shard, state, frame);
      return;
    }
    const held = this.held.get(shard) ?? { items: [], bytes: 32 };
    held.items.push(frame.t === "send" ? { data: frame.data, to: [frame.to], at: [frame.at ?? null] } : { data: frame.data, without: frame.without, upTo: frame.upTo });
    held.bytes += bytes;
    this.held.set(shard, held);
    this.holdTimer ??= setTimeout(() => this.releaseHeld(), COALESCE_MAX_MS);
  }

  /** Sends what is held for `shard` (or every shard) as one frame each. */
  releaseHeld(only?: number) {
    this.held.forEach(({ items }, shard) => {
      if (only !== undefined && shard !== only) return;
      this.held.delete(shard);
      const still = this.stillAddressed(shard, items);
      const frame: LeaderFrame | undefined = still.length === 0 ? undefined : still.length === 1 ? alone(still[0]!) : { t: "broadcasts", items: still };
      const state = this.shards.get(shard);
      if (state && frame) this.sendToShard(shard, state, frame);
    });
    if (this.held.size === 0 && this.holdTimer !== undefined) {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
    }
  }

  /** Whether client `id` is on `shard` now (its close has not come). */
  private onShard(id: string, shard: number): boolean {
    return this.audience.find(id)?.shard === shard;
  }

  /**
   * Held items that still reach someone: a send without the recipients whose close came while it
   * was held, and no broadcast to a shard where the party has met nobody now.
   */
  private stillAddressed(shard: number, items: readonly (BroadcastItem | SendItem)[]): (BroadcastItem | SendItem)[] {
    const anyoneMet = (this.audience.met.get(shard)?.size ?? 0) > 0;
    return items.flatMap((item): (BroadcastItem | SendItem)[] => {
      if (!("to" in item)) return anyoneMet ? [item] : [];
      const kept = item.to.map((_, i) => i).filter((i) => this.onShard(item.to[i]!, shard));
      if (kept.length === item.to.length) return [item];
      return kept.length === 0 ? [] : [{ ...item, to: kept.map((i) => item.to[i]!), at: kept.map((i) => item.at[i]!) }];
    });
  }

  /** A link closed: what the party sends its shard meanwhile waits for the next one. */
  linkClosed(shard: number, link: LinkEnd) {
    const state = this.shards.get(shard);
    if (state?.linkId === link.id) state.linkId = undefined;
    if (state && state.kept.length > 0) this.wakeShard(shard, state);
  }

  /** A shard whose link is down may be asleep: a request wakes it, and it links again. */
  wakeShard(shard: number, state: ShardState) {
    state.wokeAt = Date.now();
    try {
      const shardRoom = this.host.routerRoom(shardRoomId(this.roomId(), shard));
      shardRoom("", { method: "POST", headers: { [HEADER.link]: "wake" } }).catch((error: unknown) => console.error("party-shard: could not wake shard", shard, error));
    } catch (error) {
      // In onAlarm PartyKit hides the room id; the shard links again on its own next event.
      console.error("party-shard: could not wake shard", shard, error);
    }
  }
}

/**
 * The frames that waited for a shard's old incarnation that its new one can take: those to
 * clients it still has, and broadcasts only to them (`upTo` 0: its numbering started again).
 */
function carriedOver(kept: readonly { wire: Wire }[], listed: ReadonlySet<string>): LeaderFrame[] {
  return kept.flatMap(({ wire }): LeaderFrame[] => {
    const { n: _, ...frame } = unpack<LeaderFrame & { n?: number }>(wire);
    if (frame.t === "broadcast") return [{ ...frame, upTo: 0 }];
    if (frame.t === "broadcasts") {
      const items = frame.items.flatMap((item): (BroadcastItem | SendItem)[] => ("to" in item ? keptFor(item, listed) : [{ ...item, upTo: 0 }]));
      return items.length > 0 ? [{ ...frame, items }] : [];
    }
    return "to" in frame && listed.has(frame.to) ? [frame] : [];
  });
}

/** The sockets a leader closed whose shard has not said it got the close: `<id> <socket>`. */
function closedIn(kept: readonly { wire: Wire }[]): Set<string> {
  const closed = new Set<string>();
  for (const { wire } of kept) {
    const frame = unpack<LeaderFrame>(wire);
    if (frame.t === "close") closed.add(`${frame.to} ${frame.at}`);
  }
  return closed;
}

/** A held item as the frame it would have been on its own (a send to one socket is a send). */
function alone(item: BroadcastItem | SendItem): LeaderFrame {
  if (!("to" in item)) return { t: "broadcast", ...item };
  if (item.to.length > 1) return { t: "broadcasts", items: [item] };
  return { t: "send", to: item.to[0]!, ...(item.at[0] ? { at: item.at[0] } : {}), data: item.data };
}

/** A held send's recipients a shard's new incarnation still has. */
function keptFor(item: SendItem, listed: ReadonlySet<string>): SendItem[] {
  const kept = item.to.map((to, i) => [to, item.at[i] ?? null] as const).filter(([to]) => listed.has(to));
  return kept.length > 0 ? [{ data: item.data, to: kept.map(([to]) => to), at: kept.map(([, at]) => at) }] : [];
}

/** Whether two messages are the same: the same text, or the same bytes. */
function sameData(a: Data, b: Data): boolean {
  if ("text" in a || "text" in b) return "text" in a && "text" in b && a.text === b.text;
  if (!("bytes" in a) || !("bytes" in b) || a.bytes.byteLength !== b.bytes.byteLength) return false;
  for (let i = 0; i < a.bytes.byteLength; i++) if (a.bytes[i] !== b.bytes[i]) return false;
  return true;
}

export { COALESCE_MAX_MS, Fanout, carriedOver, closedIn };
export type { Audience, ShardState };

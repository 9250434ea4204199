/**
 * A client's open from one shard while its socket on another is still the room's: a reconnect
 * whose old socket's close, sent first, travels through the other shard and has not come yet.
 * Unsharded both sockets are the room's until that close, and what the old one sent runs before
 * it. So the open waits until the old socket's close is taken; then it goes. Its client may have
 * vanished and never send that close: then, once REPLACE_WAIT_MS passed and the old socket's
 * shard said it got a frame sent after the open came (a `mark`: whatever that shard relayed
 * before it has come too, however slow its link), and the new socket's shard said it got one
 * sent then, the open replaces the old socket as before; after REPLACE_MAX_WAIT_MS it does
 * whatever those shards said.
 *
 * The waiting socket may be the older one: its client left it unopened (for a socket on another
 * shard, which the room met first) while its shard held it. Its close then comes while it waits,
 * and it is never met (abandoned()); the mark to its own shard is there for that close.
 *
 * Only that client waits. The leader takes the open and acknowledges it as any frame, but its
 * acknowledgements name it among those that wait (`waiting`): the shard holds the client's
 * onConnect, so its 101, until one no longer does (shard-opens.ts). What else comes of that
 * socket meanwhile (its close) waits behind its open. A later socket of the client, from any
 * shard, waits behind it in turn, so the room meets a client's sockets in the order their opens
 * reached it (which is the order the client opened them, unless a shard held one: shard-opens.ts).
 * A leader that loses its memory meanwhile meets the client as it meets every client then: from
 * its shard's hello.
 */
import { REPLACE_WAIT_MS, sameClient } from "./protocol.js";
import type { RelayFrame } from "./protocol.js";

/** How long an open waits at most for its old socket's shard to say it got the mark (below the shard's OPEN_WAIT_MS, so the leader decides first). */
const REPLACE_MAX_WAIT_MS = 5_000;

/** A frame of the waiting client, and whether the room had started when it was taken. */
interface Held {
  frame: RelayFrame;
  started: boolean;
}

/** One shard's sockets of the client: their opens and what came of them, in the order taken. */
interface Queued {
  shard: number;
  held: Held[];
}

interface Waiting<Remote> {
  /** The client's sockets in the order their opens came, one entry a shard; the first waits for `behind`. */
  queue: Queued[];
  behind: Remote;
  /** Marks sent and not yet got: to `behind`'s shard when the wait began, to the waiting socket's own when REPLACE_WAIT_MS passed. */
  marks: { shard: number; n: number }[];
  /** REPLACE_WAIT_MS passed: it goes once every mark is got. */
  late: boolean;
  /** When the wait for `behind` began. */
  since: number;
  timers: ReturnType<typeof setTimeout>[];
  /** It goes on: its frames run in the leader's next turn for frames (until then it still waits). */
  released: boolean;
}

/** The socket of `queued` closed, having sent nothing, while its open waited: its client left it before it opened. */
const leftUnopened = ({ held }: Queued) => held.length === 2 && held[0]!.frame.t === "open" && held[1]!.frame.t === "close";

class WaitingOpens<Remote extends { shard: number; key: string | null }> {
  /** By client id. */
  private readonly waiting = new Map<string, Waiting<Remote>>();
  /** Sockets waited for until REPLACE_WAIT_MS passed: an open of their client no longer waits. */
  private readonly expired = new WeakSet<Remote>();
  /**
   * How long opens whose clients then left them (abandoned()) waited for a socket: a client
   * that gives up on a waiting socket (partysocket's connect timeout is 4 s) and tries again
   * waits no longer in all, and is not left waiting, attempt after attempt, for a shard that
   * does not answer.
   */
  private readonly waited = new WeakMap<Remote, number>();

  constructor(
    private readonly leader: {
      /** Runs `step` in the leader's turn for frames (after the frames taken before). */
      turn: (step: () => Promise<void>) => void;
      /** Whether the room started: a frame runs only then (leader.ts). */
      ready: (shard: number) => Promise<boolean>;
      apply: (shard: number, frame: RelayFrame) => void;
      /** An open that waited ran: the shard hears it, and which of its opens wait still. */
      taken: (shard: number, waiting: { waiting?: number[] }) => void;
      /** The room's socket of client `id`, if any. */
      existing: (id: string) => Remote | undefined;
      /** Sends `shard` a mark (a frame it only counts): its number, undefined if the shard is unknown. */
      mark: (shard: number) => number | undefined;
    },
  ) {}

  /**
   * The same client's socket on another shard (`existing`, the id's), still the room's, that an
   * open from `shard` waits for; undefined: it goes at once (no such socket, or it was already
   * waited for the whole time), or waits behind another open of the client (holds).
   */
  behind(shard: number, open: { id: string; key: string | null }, existing: Remote | undefined): Remote | undefined {
    return this.waiting.has(open.id) ? undefined : this.mustWait(shard, open, existing);
  }

  /** Whether `frame` from `shard` waits: its client's open waits, and it is a later open or comes from a waiting socket's shard. */
  holds(shard: number, frame: RelayFrame): boolean {
    const waiting = this.waiting.get(frame.id);
    return waiting !== undefined && (frame.t === "open" || waiting.queue.some((queued) => queued.shard === shard));
  }

  /** `held` from `shard` waits behind what its shard sent before, or (a first open from that shard) last in its client's queue. */
  hold(shard: number, held: Held) {
    const id = held.frame.id;
    const waiting = this.waiting.get(id);
    if (!waiting) return;
    const queued = waiting.queue.find((each) => each.shard === shard);
    if (!queued) return void waiting.queue.push({ shard, held: [held] });
    queued.held.push(held);
    if (!waiting.released && leftUnopened(queued)) this.abandoned(id, waiting, queued);
  }

  /** The open (`held`) of client `id` from `shard` waits behind `behind`. */
  wait(shard: number, behind: Remote, open: Held & { frame: { id: string } }) {
    const waiting: Waiting<Remote> = { queue: [{ shard, held: [open] }], behind, marks: [], late: false, since: 0, timers: [], released: false };
    this.waiting.set(open.frame.id, waiting);
    this.waitFor(open.frame.id, waiting, behind);
  }

  /** For an acknowledgement to `shard`: the frame numbers of its opens that wait. */
  on(shard: number): { waiting?: number[] } {
    const seqs: number[] = [];
    this.waiting.forEach((waiting) => waiting.queue.forEach((queued) => queued.shard === shard && queued.held.forEach(({ frame }) => frame.t === "open" && seqs.push(frame.seq))));
    return seqs.length > 0 ? { waiting: seqs } : {};
  }

  /** The ids whose opens from `shard` wait: broadcasts to that shard leave their new socket out. */
  idsOn(shard: number): string[] {
    const ids: string[] = [];
    this.waiting.forEach((waiting, id) => waiting.queue.some((queued) => queued.shard === shard && queued.held.some(({ frame }) => frame.t === "open")) && ids.push(id));
    return ids;
  }

  /** `remote` is no longer the room's (its close taken, or forgotten): the opens waiting behind it go on. */
  gone(remote: Remote) {
    this.waiting.forEach((waiting, id) => waiting.behind === remote && this.release(id)); // (a released one is skipped)
  }

  /** `shard` said it got every frame up to `n`: an open that waited long enough goes once every mark is got. */
  got(shard: number, n: number) {
    this.waiting.forEach((waiting, id) => {
      const before = waiting.marks.length;
      waiting.marks = waiting.marks.filter((mark) => mark.shard !== shard || n < mark.n);
      if (waiting.marks.length < before && waiting.late && waiting.marks.length === 0) this.expire(id, waiting.behind);
    });
  }

  /**
   * `shard` linked again (its hello was taken). A shard sends its hello's `got` before the frames
   * it sends again, so a mark it got says nothing of those: each wait marks it anew.
   */
  relinked(shard: number) {
    this.waiting.forEach((waiting) => {
      if (waiting.released) return;
      if (waiting.behind.shard === shard) this.markOn(waiting, shard);
      if (waiting.late && waiting.queue[0]?.shard === shard) this.markOn(waiting, shard);
    });
  }

  /** `shard` started afresh: the sockets whose opens waited are gone with it, and never met; the client's others go on. */
  drop(shard: number) {
    this.waiting.forEach((waiting, id) => {
      // Emptied in place: a turn already under way with these frames applies none of them.
      const first = waiting.queue[0];
      waiting.queue.forEach((queued) => queued.shard === shard && queued.held.splice(0));
      waiting.queue = waiting.queue.filter((queued) => queued.shard !== shard);
      if (waiting.queue[0] === first) return;
      if (waiting.queue.length > 0) return this.release(id);
      waiting.timers.forEach(clearTimeout);
      this.waiting.delete(id);
    });
  }

  private mustWait(shard: number, open: { id: string; key: string | null }, existing: Remote | undefined): Remote | undefined {
    if (!existing || existing.shard === shard || !sameClient(existing.key, open.key) || this.expired.has(existing)) return undefined;
    return existing;
  }

  private waitFor(id: string, waiting: Waiting<Remote>, behind: Remote) {
    waiting.behind = behind;
    waiting.released = false;
    waiting.late = false;
    waiting.marks = [];
    this.markOn(waiting, behind.shard);
    const late = () => {
      waiting.late = true;
      // Its own shard too: a close its client sent before it opened has come, if that shard saw it by now (abandoned()).
      if (waiting.queue[0]) this.markOn(waiting, waiting.queue[0].shard);
      if (waiting.marks.length === 0) this.expire(id, behind);
    };
    waiting.since = Date.now();
    const after = (ms: number) => Math.max(0, ms - (this.waited.get(behind) ?? 0));
    waiting.timers = [setTimeout(late, after(REPLACE_WAIT_MS)), setTimeout(() => this.expire(id, behind), after(REPLACE_MAX_WAIT_MS))];
  }

  private markOn(waiting: Waiting<Remote>, shard: number) {
    const n = this.leader.mark(shard);
    waiting.marks = waiting.marks.filter((mark) => mark.shard !== shard);
    if (n !== undefined) waiting.marks.push({ shard, n });
  }

  /** The old socket was waited for long enough: the open replaces it. */
  private expire(id: string, behind: Remote) {
    this.expired.add(behind);
    this.release(id);
  }

  private release(id: string) {
    const waiting = this.waiting.get(id);
    if (!waiting || waiting.released) return;
    waiting.released = true;
    waiting.timers.forEach(clearTimeout);
    this.leader.turn(async () => {
      while (waiting.queue.length > 0) {
        const queued = waiting.queue[0]!;
        // Its close may have come with what let it go (a `got`).
        if (leftUnopened(queued)) {
          this.abandoned(id, waiting, queued);
          continue;
        }
        // A later socket of the client waits for the one the room has now, if that is on another shard.
        const first = queued.held[0];
        const behind = first?.started && first.frame.t === "open" ? this.mustWait(queued.shard, first.frame, this.leader.existing(id)) : undefined;
        if (behind) return this.waitFor(id, waiting, behind);
        // Each frame in a turn of its own, as frames from a link are. A frame leaves the queue just
        // before it runs (no await between): a socket whose open is still queued stays out of broadcasts.
        while (queued.held.length > 0) {
          const ready = await this.leader.ready(queued.shard);
          const next = queued.held.shift();
          if (queued.held.length === 0) this.done(id, waiting, queued);
          if (!next) break; // emptied meanwhile: its shard started afresh (drop)
          const { frame, started } = next;
          if (started && ready) this.leader.apply(queued.shard, frame);
          if (frame.t === "open") this.leader.taken(queued.shard, this.on(queued.shard));
        }
        if (waiting.queue[0] === queued) this.done(id, waiting, queued);
      }
    });
  }

  /**
   * A waiting socket closed, having sent nothing: its client left it before it opened (the shard
   * holds its 101 while its open waits), for a later socket or for good. Unsharded its request
   * may not have reached the room yet either, so the room never meets it, and it replaces nobody:
   * run later, it would replace the client's newer socket on another shard (the room cannot tell
   * which of a client's sockets across shards came first).
   */
  private abandoned(id: string, waiting: Waiting<Remote>, queued: Queued) {
    const first = waiting.queue[0] === queued;
    if (first) this.waited.set(waiting.behind, (this.waited.get(waiting.behind) ?? 0) + Date.now() - waiting.since);
    this.done(id, waiting, queued);
    this.leader.taken(queued.shard, this.on(queued.shard));
    if (this.waiting.get(id) !== waiting) waiting.timers.forEach(clearTimeout);
    else if (first && !waiting.released) this.release(id); // the next waits anew for the room's socket, if it must
  }

  /** `queued` ran: it leaves the queue, and the client waits no more once the queue is empty. */
  private done(id: string, waiting: Waiting<Remote>, queued: Queued) {
    waiting.queue = waiting.queue.filter((each) => each !== queued);
    if (waiting.queue.length === 0 && this.waiting.get(id) === waiting) this.waiting.delete(id);
  }
}

export { REPLACE_MAX_WAIT_MS, WaitingOpens };
export type { Held };

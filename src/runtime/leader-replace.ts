/**
 * A client's open from one shard while its socket on another is still the room's: a reconnect
 * whose old socket's close, sent first, travels through the other shard and has not come yet.
 * Unsharded both sockets are the room's until that close, and what the old one sent runs before
 * it. So the open waits until the old socket's close is taken; then it goes. Its client may have
 * vanished and never send that close: then, once REPLACE_WAIT_MS passed and the old socket's
 * shard said it got a frame sent after the open came (a `mark`: whatever that shard relayed
 * before it has come too, however slow its link), the open replaces the old socket as before;
 * after REPLACE_MAX_WAIT_MS it does whatever that shard said.
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
  /** The mark sent to `behind`'s shard when the wait began: undefined once that shard got it. */
  mark: { shard: number; n: number } | undefined;
  /** REPLACE_WAIT_MS passed: it goes once the mark is got. */
  late: boolean;
  timers: ReturnType<typeof setTimeout>[];
  /** It goes on: its frames run in the leader's next turn for frames (until then it still waits). */
  released: boolean;
}

class WaitingOpens<Remote extends { shard: number; key: string | null }> {
  /** By client id. */
  private readonly waiting = new Map<string, Waiting<Remote>>();
  /** Sockets waited for until REPLACE_WAIT_MS passed: an open of their client no longer waits. */
  private readonly expired = new WeakSet<Remote>();

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
    const waiting = this.waiting.get(held.frame.id);
    if (!waiting) return;
    const queued = waiting.queue.find((each) => each.shard === shard);
    if (queued) queued.held.push(held);
    else waiting.queue.push({ shard, held: [held] });
  }

  /** The open (`held`) of client `id` from `shard` waits behind `behind`. */
  wait(shard: number, behind: Remote, open: Held & { frame: { id: string } }) {
    const waiting: Waiting<Remote> = { queue: [{ shard, held: [open] }], behind, mark: undefined, late: false, timers: [], released: false };
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

  /** `shard` said it got every frame up to `n`: an open that waited long enough for a socket there goes once it got the mark. */
  got(shard: number, n: number) {
    this.waiting.forEach((waiting, id) => {
      if (!waiting.mark || waiting.mark.shard !== shard || n < waiting.mark.n) return;
      waiting.mark = undefined;
      if (waiting.late) this.expire(id, waiting.behind);
    });
  }

  /**
   * `shard` linked again (its hello was taken). A shard sends its hello's `got` before the frames
   * it sends again, so a mark it got says nothing of those: each wait for a socket there marks anew.
   */
  relinked(shard: number) {
    this.waiting.forEach((waiting) => !waiting.released && waiting.behind.shard === shard && this.markOn(waiting));
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
    this.markOn(waiting);
    const late = () => {
      waiting.late = true;
      if (!waiting.mark) this.expire(id, behind);
    };
    waiting.timers = [setTimeout(late, REPLACE_WAIT_MS), setTimeout(() => this.expire(id, behind), REPLACE_MAX_WAIT_MS)];
  }

  private markOn(waiting: Waiting<Remote>) {
    const shard = waiting.behind.shard;
    const n = this.leader.mark(shard);
    waiting.mark = n === undefined ? undefined : { shard, n };
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

  /** `queued` ran: it leaves the queue, and the client waits no more once the queue is empty. */
  private done(id: string, waiting: Waiting<Remote>, queued: Queued) {
    waiting.queue = waiting.queue.filter((each) => each !== queued);
    if (waiting.queue.length === 0 && this.waiting.get(id) === waiting) this.waiting.delete(id);
  }
}

export { REPLACE_MAX_WAIT_MS, WaitingOpens };
export type { Held };

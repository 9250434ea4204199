/**
 * A client's open from one shard while its socket on another is still the room's: a reconnect
 * whose old socket's close, sent first, travels through the other shard and has not come yet.
 * Unsharded both sockets are the room's until that close, and what the old one sent runs before
 * it. So the open waits until the old socket's close is taken, or REPLACE_WAIT_MS passed (its
 * client may have vanished, and never send one); then it replaces the old socket as before.
 *
 * Only that client waits. The leader takes the open and acknowledges it as any frame, but its
 * acknowledgements name it among those that wait (`waiting`): the shard holds the client's
 * onConnect, so its 101, until one no longer does (shard-opens.ts). What else comes of that
 * socket meanwhile (its close) waits behind its open. A leader that loses its memory meanwhile
 * meets the client as it meets every client then: from its shard's hello.
 */
import { REPLACE_WAIT_MS, sameClient } from "./protocol.js";
import type { RelayFrame } from "./protocol.js";

/** A frame of the waiting client, and whether the room had started when it was taken. */
interface Held {
  frame: RelayFrame;
  started: boolean;
}

interface Waiting<Remote> {
  shard: number;
  behind: Remote;
  held: Held[];
  timer: ReturnType<typeof setTimeout>;
  /** It goes on: its frames run in the leader's next turn for frames (until then it still waits). */
  released: boolean;
}

class WaitingOpens<Remote extends { shard: number; key: string | null }> {
  /** By client id: one open at a time waits for an id (a later one of the same shard waits behind it). */
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
    },
  ) {}

  /**
   * The same client's socket on another shard (`existing`, the id's), still the room's, that an
   * open from `shard` waits for; undefined: it goes at once (no such socket, or it was already
   * waited for the whole time).
   */
  behind(shard: number, open: { id: string; key: string | null }, existing: Remote | undefined): Remote | undefined {
    if (!existing || existing.shard === shard || !sameClient(existing.key, open.key) || this.expired.has(existing) || this.waiting.has(open.id)) return undefined;
    return existing;
  }

  /** Whether frames of `id` from `shard` wait behind its open: then `hold` them. */
  holds(shard: number, id: string): boolean {
    return this.waiting.get(id)?.shard === shard;
  }

  hold(id: string, held: Held) {
    this.waiting.get(id)?.held.push(held);
  }

  /** The open (`held`, frame number `seq`) of client `id` from `shard` waits behind `behind`. */
  wait(shard: number, behind: Remote, open: Held & { frame: { id: string } }) {
    const id = open.frame.id;
    const timer = setTimeout(() => {
      this.expired.add(behind);
      this.release(id);
    }, REPLACE_WAIT_MS);
    this.waiting.set(id, { shard, behind, held: [open], timer, released: false });
  }

  /** For an acknowledgement to `shard`: the frame numbers of its opens that wait (a later socket's of the id too, behind the first; and `also`). */
  on(shard: number, also: Held[] = []): { waiting?: number[] } {
    const seqs: number[] = [];
    const opens = (held: Held[]) => held.forEach(({ frame }) => frame.t === "open" && seqs.push(frame.seq));
    this.waiting.forEach((waiting) => waiting.shard === shard && opens(waiting.held));
    opens(also);
    return seqs.length > 0 ? { waiting: seqs } : {};
  }

  /** The ids whose opens from `shard` wait: broadcasts to that shard leave their new socket out. */
  idsOn(shard: number): string[] {
    const ids: string[] = [];
    this.waiting.forEach((waiting, id) => waiting.shard === shard && ids.push(id));
    return ids;
  }

  /** `remote` is no longer the room's (its close taken, or forgotten): the opens waiting behind it go on. */
  gone(remote: Remote) {
    this.waiting.forEach((waiting, id) => waiting.behind === remote && this.release(id)); // (a released one is skipped)
  }

  /** `shard` started afresh: the sockets whose opens waited are gone with it, and never met. */
  drop(shard: number) {
    this.waiting.forEach((waiting, id) => {
      if (waiting.shard !== shard) return;
      clearTimeout(waiting.timer);
      this.waiting.delete(id);
    });
  }

  private release(id: string) {
    const waiting = this.waiting.get(id);
    if (!waiting || waiting.released) return;
    waiting.released = true;
    clearTimeout(waiting.timer);
    const { shard, held } = waiting;
    // Each frame in a turn of its own, as frames from a link are; no await between the waiting's
    // end and the open's run, so its socket stays out of broadcasts until the party meets it.
    this.leader.turn(async () => {
      let ready = await this.leader.ready(shard);
      if (this.waiting.get(id) === waiting) this.waiting.delete(id);
      for (let i = 0; i < held.length; i++) {
        const { frame, started } = held[i]!;
        if (i > 0) ready = await this.leader.ready(shard);
        if (started && ready) this.leader.apply(shard, frame);
        if (frame.t === "open") this.leader.taken(shard, this.on(shard, held.slice(i + 1)));
      }
    });
  }
}

export { WaitingOpens };
export type { Held };

/**
 * A client's open from one shard while its socket on another is still the room's: a reconnect
 * whose old socket's close, sent first, travels through the other shard and has not come yet.
 * Unsharded both sockets are the room's until that close, and what the old one sent runs before
 * it. So the open waits, with every frame of its shard after it (in order, unacknowledged: a
 * leader that restarts meanwhile is sent them again), until the old socket's close is taken or
 * REPLACE_WAIT_MS passed (its client may have vanished, and never send one); then the open
 * replaces the old socket as before. A shard's frames wait at most that long behind a reconnect;
 * the shard sends nothing more until they are acknowledged, so what waits is one link message.
 */
import type { LinkEnd } from "./host.js";
import { REPLACE_WAIT_MS, sameClient } from "./protocol.js";
import type { RelayFrame } from "./protocol.js";

/** After a wait ran out, how long its shard's frames wait behind no other. */
const IN_VAIN_MS = 10_000;

/** A frame as the leader took it from its link (leader.ts takeFrame). */
interface Held {
  link: LinkEnd;
  frame: RelayFrame;
  ack: boolean;
  started: boolean;
}

interface Waiting<Remote> {
  behind: Remote;
  held: Held[];
  timer: ReturnType<typeof setTimeout>;
  released: boolean;
}

class WaitingShards<Remote extends { shard: number; key: string | null }> {
  private readonly waiting = new Map<number, Waiting<Remote>>();
  /** Sockets waited for until REPLACE_WAIT_MS passed: an open of their client no longer waits. */
  private readonly expired = new WeakSet<Remote>();
  /** When each shard's last wait ran out. */
  private readonly inVain = new Map<number, number>();

  /** `resume`: run `take()`'s frames in the leader's turn for frames (they are still held until then). */
  constructor(private readonly resume: (shard: number, take: () => Held[]) => void) {}

  /** Whether `shard`'s frames wait: then each is held. */
  waits(shard: number): boolean {
    return this.waiting.has(shard);
  }

  /**
   * The same client's socket on another shard (`existing`, the id's), still the room's, that an
   * open from `shard` waits for, if it may. Not once it waited the whole time; nor while that
   * shard's frames wait on `shard`'s (the shards would wait on each other); nor within IN_VAIN_MS
   * of a wait of `shard`'s that ran out: in a reconnect storm the old sockets are mostly
   * half-open and send no close, and a shard's frames must not wait once per reconnect. Those
   * opens replace the old socket at once, as before these waits.
   */
  behind(shard: number, open: { key: string | null }, existing: Remote | undefined): Remote | undefined {
    if (!existing || existing.shard === shard || !sameClient(existing.key, open.key) || this.expired.has(existing) || this.leadsTo(existing.shard, shard)) return undefined;
    return Date.now() - (this.inVain.get(shard) ?? -IN_VAIN_MS) >= IN_VAIN_MS ? existing : undefined;
  }

  /** Whether the frames of shard `from` wait, through the shards they wait behind, on shard `to`'s. */
  private leadsTo(from: number, to: number): boolean {
    for (let at = from, hops = 0; hops <= this.waiting.size; hops++) {
      const waiting = this.waiting.get(at);
      if (!waiting) return false;
      at = waiting.behind.shard;
      if (at === to) return true;
    }
    return false;
  }

  /** `shard`'s frames wait behind `remote`, starting with `open`. */
  wait(shard: number, behind: Remote, open: Held) {
    const timer = setTimeout(() => {
      this.expired.add(behind);
      this.inVain.set(shard, Date.now());
      this.release(shard);
    }, REPLACE_WAIT_MS);
    this.waiting.set(shard, { behind, held: [open], timer, released: false });
  }

  hold(shard: number, held: Held) {
    this.waiting.get(shard)?.held.push(held);
  }

  /** `remote` is no longer the room's (its close taken, or forgotten): the frames waiting behind it go on. */
  gone(remote: Remote) {
    this.waiting.forEach((waiting, shard) => waiting.behind === remote && this.release(shard));
  }

  private release(shard: number) {
    const waiting = this.waiting.get(shard);
    if (!waiting || waiting.released) return;
    waiting.released = true;
    clearTimeout(waiting.timer);
    this.resume(shard, () => {
      this.waiting.delete(shard);
      return waiting.held;
    });
  }
}

export { WaitingShards };
export type { Held };

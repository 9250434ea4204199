/**
 * A shard's clients waiting to see their socket open. Unsharded, both platforms send the 101
 * once the party's onConnect has settled, so whatever anyone sends after a client saw its socket
 * open reaches that client. Sharded, the shard's onConnect waits here until the leader took the
 * client's open (it acknowledged the open's frame number): a message another client sends after
 * that, on any shard or through the router, reaches the party after this client's onConnect.
 *
 * A wait also ends when the client goes (closed, refused), the shard starts afresh, or after
 * OPEN_WAIT_MS (the leader unreachable that long): then the client is greeted anyway. When the
 * leader closes the socket meanwhile (its room failed to start), the wait ends with that close
 * and onConnect throws, so the platform closes the client's socket 1011, as it does for a direct
 * socket whose room fails to start (on wrangler dev the leader's close of a socket whose
 * onConnect had not returned never reached its client).
 */

import { REPLACE_WAIT_MS, type Message } from "./protocol.js";
import { waitingState } from "./shard-sockets.js";

/** How long a client's onConnect waits for the leader to take its open. */
const OPEN_WAIT_MS = 10_000;

/** The leader closed the socket while its onConnect waited. */
type Closed = { code: number; reason: string };

class OpenWaits {
  /** By the open's frame number. */
  private readonly waits = new Map<number, { id: string; socket: string; done: (closed?: Closed) => void }>();

  /** Opens the leader took but holds (its last acknowledgement's `waiting`: leader-replace.ts). */
  private held: readonly number[] = [];

  /** Resolves once `release` passes frame `seq` (the open of client `id`, its socket tagged `socket`), or OPEN_WAIT_MS passed; with the leader's close, if that ended it. */
  wait(id: string, socket: string, seq: number, acked: number): Promise<Closed | undefined> {
    if (seq <= acked && !this.held.includes(seq)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), OPEN_WAIT_MS);
      const done = (closed?: Closed) => {
        clearTimeout(timer);
        this.waits.delete(seq);
        resolve(closed);
      };
      this.waits.set(seq, { id, socket, done });
    });
  }

  /** Whether the leader holds the open numbered `seq` (taken, its onConnect not run yet): its socket gets no broadcast meanwhile. */
  holds(seq: number): boolean {
    return this.held.includes(seq);
  }

  /** The shard starts afresh (its numbering too): every wait ends, and no open is held. */
  reset() {
    this.held = [];
    this.release(Number.MAX_SAFE_INTEGER);
  }

  /** The leader acknowledged every frame up to `acked`; the opens numbered in `waiting` it holds still. */
  acked(acked: number, waiting: readonly number[] = []) {
    this.held = waiting;
    this.waits.forEach((wait, seq) => seq <= acked && !waiting.includes(seq) && wait.done());
  }

  /**
   * Ends the waits of opens numbered up to `acked`, and any of client `id` (gone meanwhile; `at`:
   * that socket of it only), with `closed` if the leader closed it. Whether one of `id` waited.
   */
  release(acked: number, id?: string, at?: string, closed?: Closed): boolean {
    let waited = false;
    this.waits.forEach((wait, seq) => {
      const theirs = wait.id === id && (at === undefined || wait.socket === at);
      waited ||= theirs;
      if (seq <= acked || theirs) wait.done(theirs ? closed : undefined);
    });
    return waited;
  }
}

/** Messages held for a socket before its open is relayed (a client sees no 101 before onConnect settles, so sends none). */
const HELD_MAX = 64;

/**
 * A shard's sockets before their open is relayed. What a socket does meanwhile (messages, its
 * close) is held, to follow its open; and the sockets of one id take turns, so each meets the
 * one before it as relayed. A client back while its old socket here is still open waits for
 * that socket's close, REPLACE_WAIT_MS at most: the close was sent before the new socket's
 * request but travels apart (or never comes: its client vanished). Unsharded both sockets are
 * the room's until that close, and what the old one sent runs before it; after the wait the new
 * socket replaces the old one.
 */
class NewSockets {
  /** By the old socket's tag. */
  private readonly waits = new Map<string, (() => void)[]>();
  /** By the new socket's tag: what it sent meanwhile, and its close if it closed. */
  private readonly held = new Map<string, { messages: Message[]; close?: { code?: number | undefined; reason?: string | undefined } }>();

  /** Turns of a client id's sockets (inTurn): the last one's end. */
  private readonly turns = new Map<string, Promise<void>>();

  /** Runs `relay` once the sockets of `id` that came before ended theirs. */
  async inTurn<T>(id: string, relay: () => Promise<T>): Promise<T> {
    const before = this.turns.get(id) ?? Promise.resolve();
    let end!: () => void;
    const ended = new Promise<void>((resolve) => (end = resolve));
    const mine = before.then(() => ended);
    this.turns.set(id, mine);
    try {
      await before;
      return await relay();
    } finally {
      end();
      if (this.turns.get(id) === mine) this.turns.delete(id);
    }
  }

  /** A new socket tagged `socket` begins: its state until its open is relayed (`take`). */
  begin(socket: string) {
    this.held.set(socket, { messages: [] });
    return waitingState(socket);
  }

  /** Resolves once the socket tagged `old` closed here (`closed`), or REPLACE_WAIT_MS passed. */
  wait(old: string): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const rest = (this.waits.get(old) ?? []).filter((each) => each !== done);
        if (rest.length > 0) this.waits.set(old, rest);
        else this.waits.delete(old);
        resolve();
      };
      const timer = setTimeout(done, REPLACE_WAIT_MS);
      this.waits.set(old, [...(this.waits.get(old) ?? []), done]);
    });
  }

  /** The socket tagged `tag` closed (its close relayed): whoever waited for it goes on. */
  closed(tag: string | undefined) {
    if (tag !== undefined) this.waits.get(tag)?.slice().forEach((done) => done());
  }

  /** Holds a waiting socket's message; false when it may hold no more. */
  hold(socket: string, message: Message): boolean {
    const held = this.held.get(socket);
    if (!held || held.messages.length >= HELD_MAX) return false;
    held.messages.push(message);
    return true;
  }

  /** A waiting socket closed: its close follows its open. */
  holdClose(socket: string, code: number | undefined, reason: string | undefined) {
    const held = this.held.get(socket);
    if (held) held.close ??= { code, reason };
  }

  /**
   * Whether the socket tagged `socket` closed while it waited, having sent nothing: its client
   * left it before it opened, maybe for a newer socket of its id here. Then it holds nothing more.
   */
  abandoned(socket: string): boolean {
    const held = this.held.get(socket);
    if (!held?.close || held.messages.length > 0) return false;
    this.held.delete(socket);
    return true;
  }

  /** What a socket did while it waited, oldest first; it holds nothing from then on. */
  take(socket: string) {
    const held = this.held.get(socket) ?? { messages: [] };
    this.held.delete(socket);
    return held;
  }
}

export { OPEN_WAIT_MS, OpenWaits, NewSockets, type Closed };

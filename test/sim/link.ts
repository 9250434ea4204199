/**
 * A shard's link to its leader, as two WebSocket ends. Each direction is FIFO (a later frame
 * never arrives first), may be delayed, and a link can be dropped: frames in flight are lost and
 * each end learns of it only by its close event, a little later; what an end sends before that
 * is lost too, as over a connection that broke.
 */
import type { LinkEnd, LinkSocket } from "../../src/runtime/host.js";
import { NET, type Actor, type Clock } from "./env.js";

/** What a link needs of its world: time, and the leader's side, which wakes on a link's event. */
interface LinkWorld {
  readonly clock: Clock;
  latency(): number;
  trace(line: string): void;
  error(what: string, error: unknown): void;
  leaderFrame(end: LinkEnd, raw: string | ArrayBuffer): void;
  leaderClosed(end: LinkEnd): void;
}

interface Side {
  readyState: number;
  /** This end called close(): sending now throws, as workerd's send() after close() does. */
  closedByMe: boolean;
  closeFired: boolean;
  /** When the last frame sent from this end arrives: a later one never arrives before it. */
  lastArrival: number;
}

type Listener = (event: MessageEvent) => void;

class Link {
  broken = false;
  /** A delay fault: frames sent before `extraUntil` take `extraMs` longer. */
  extraUntil = 0;
  extraMs = 0;
  private readonly leader: Side = { readyState: 1, closedByMe: false, closeFired: false, lastArrival: 0 };
  private readonly shardSide: Side = { readyState: 1, closedByMe: false, closeFired: false, lastArrival: 0 };
  private readonly messageListeners: Listener[] = [];
  private readonly closeListeners: (() => void)[] = [];
  readonly leaderEnd: LinkEnd;
  readonly shardEnd: LinkSocket;

  constructor(
    readonly id: string,
    readonly shard: number,
    /** The shard incarnation that opened it: its listeners die with it. */
    readonly opener: Actor,
    private readonly w: LinkWorld,
  ) {
    const link = this;
    this.leaderEnd = {
      id,
      get readyState() {
        return link.leader.readyState;
      },
      send: (text) => this.send(this.leader, text),
      close: (code, reason) => this.close(this.leader, code, reason),
    };
    this.shardEnd = {
      get readyState() {
        return link.shardSide.readyState;
      },
      send: (text) => this.send(this.shardSide, text),
      close: (code, reason) => this.close(this.shardSide, code, reason),
      addEventListener: (type: string, listener: Listener | (() => void)) => {
        if (type === "message") this.messageListeners.push(listener as Listener);
        else this.closeListeners.push(listener as () => void);
      },
    };
  }

  /** Listed by the leader's platform: accepted and its close event not yet delivered there. */
  get listedAtLeader(): boolean {
    return !this.leader.closeFired;
  }
  /** The shard still holds it: its close event has not reached the shard (a broken link too, until then). */
  get heldByShard(): boolean {
    return !this.shardSide.closeFired;
  }
  get up(): boolean {
    return !this.broken && this.leader.readyState === 1 && this.shardSide.readyState === 1;
  }

  drop() {
    if (this.broken) return;
    this.broken = true;
    this.w.trace(`link ${this.short} dropped`);
    for (const side of [this.leader, this.shardSide]) {
      if (!side.closeFired) this.w.clock.after(this.w.latency() * 3, () => this.fireClose(side), NET);
    }
  }

  /** The process died: both ends are gone, and no one is left to hear a close. */
  kill() {
    this.broken = true;
    for (const side of [this.leader, this.shardSide]) {
      side.closeFired = true;
      side.readyState = 3;
    }
  }

  get short(): string {
    return `s${this.shard}:${this.id.slice(-4)}`;
  }

  private other(side: Side): Side {
    return side === this.leader ? this.shardSide : this.leader;
  }

  private arrival(side: Side): number {
    const now = this.w.clock.now;
    const extra = now < this.extraUntil ? this.extraMs : 0;
    side.lastArrival = Math.max(now + this.w.latency() + extra, side.lastArrival);
    return side.lastArrival;
  }

  private send(side: Side, text: string | ArrayBuffer) {
    if (side.closedByMe) throw new TypeError("Can't call WebSocket send() after close().");
    // The peer's close arrived: nothing goes any more. A broken link loses it silently.
    if (side.readyState !== 1 || this.broken) return;
    this.w.clock.at(this.arrival(side), () => this.arrive(this.other(side), text), NET);
  }

  private arrive(to: Side, text: string | ArrayBuffer) {
    if (this.broken || to.readyState === 3) return;
    if (to === this.leader) {
      this.w.trace(`L <- ${this.short} ${shown(text)}`);
      return this.w.leaderFrame(this.leaderEnd, text);
    }
    if (!this.opener.alive) return;
    this.w.trace(`${this.short} <- L ${shown(text)}`);
    this.w.clock.current = this.opener;
    const event = new MessageEvent("message", { data: text });
    for (const listener of this.messageListeners) this.safely(() => listener(event));
  }

  private close(side: Side, code?: number, reason?: string) {
    if (side.readyState !== 1) return;
    side.readyState = 2;
    side.closedByMe = true;
    this.w.trace(`link ${this.short} closed by ${side === this.leader ? "leader" : "shard"} ${code ?? ""} ${reason ?? ""}`);
    const peer = this.other(side);
    // The close frame follows what was sent before it; the peer answers, then this end's event.
    this.w.clock.at(this.arrival(side), () => {
      if (this.broken) return;
      this.fireClose(peer);
      this.w.clock.after(this.w.latency(), () => this.fireClose(side), NET);
    }, NET);
  }

  private fireClose(side: Side) {
    if (side.closeFired) return;
    side.closeFired = true;
    side.readyState = 3;
    if (side === this.leader) return this.w.leaderClosed(this.leaderEnd);
    if (!this.opener.alive) return;
    this.w.clock.current = this.opener;
    for (const listener of this.closeListeners) this.safely(listener);
  }

  /** A throwing listener is reported, as a platform reports it; the others still run. */
  private safely(run: () => void) {
    try {
      run();
    } catch (error) {
      this.w.error(`a listener on link ${this.short} threw`, error);
    }
  }
}

/** A frame for the trace: its text, or a binary frame's JSON and its size. */
function shown(wire: string | ArrayBuffer): string {
  if (typeof wire === "string") return wire.slice(0, Number(process.env.SIM_WIRE ?? 160));
  const length = new DataView(wire).getUint32(0);
  return `(${wire.byteLength} bytes) ${new TextDecoder().decode(new Uint8Array(wire, 4, length)).slice(0, 140)}`;
}

export { Link };
export type { LinkWorld };

/**
 * A client on a shard, as the party sees it at the leader: a Connection whose send and close
 * travel over the shard's link, and whose state, attachment, tags and highest write number live
 * here and are mirrored to the shard, so a woken leader gets them back.
 */
import { encode } from "./protocol.js";
import type { Kept, LeaderFrame, Message } from "./protocol.js";
import type { Conn, LeaderHost } from "./host.js";

class RemoteConnection extends EventTarget {
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;
  readonly url = null;
  readonly protocol = "";
  readonly extensions = "";
  readonly binaryType = "arraybuffer";
  readonly bufferedAmount = 0;
  readyState = 1;
  /**
   * False from its open until the party's onConnect starts: until then it is none of the room's
   * connections (getConnections, getConnection, broadcasts), as a socket not yet accepted is not.
   */
  met = false;
  private tail: Promise<unknown> = Promise.resolve();
  private seqMirrored = 0;
  /** What it keeps changed, and the shard has not been sent it yet (mirror()). */
  private unmirrored = false;

  constructor(
    readonly id: string,
    readonly uri: string,
    /** The room's name (PartyServer's `connection.server`). */
    readonly server: string,
    readonly shard: number,
    readonly key: string | null,
    /** Which socket of this id on its shard this is (undefined from shards before it). */
    private readonly socketTag: string | undefined,
    private readonly kept: Kept,
    /** Both platforms keep a hibernating connection's state in its attachment. */
    private readonly stateIsAttachment: boolean,
    private readonly out: (frame: LeaderFrame) => void,
    /** The leader's input gate (input-gate.ts): each handler starts only while no storage call of the party's is in flight. */
    private readonly gate: { when<T>(step: () => T): Promise<T> },
  ) {
    super();
  }

  get socket() {
    return this;
  }
  get state(): unknown {
    return this.stateIsAttachment ? this.deserializeAttachment() : this.kept.state;
  }
  setState(next: unknown) {
    const value = typeof next === "function" ? (next as (previous: unknown) => unknown)(this.state) : next;
    if (this.stateIsAttachment) this.kept.attachment = structuredClone(value ?? null);
    else this.kept.state = value;
    this.mirror();
    return value;
  }
  serializeAttachment(value: unknown) {
    this.kept.attachment = structuredClone(value ?? null);
    this.mirror();
  }
  deserializeAttachment(): unknown {
    return structuredClone(this.kept.attachment ?? null);
  }
  setTags(tags: string[]) {
    this.kept.tags = tags;
    this.mirror();
  }
  hasTag(tag: string) {
    return this.kept.tags.includes(tag);
  }
  /** PartyServer's `connection.tags`: the id first, then getConnectionTags'. */
  get tags(): readonly string[] {
    return this.kept.tags;
  }
  send(message: Message) {
    this.flushKept();
    this.out({ t: "send", to: this.id, ...this.at(), data: encode(message) });
  }
  close(code?: number, reason?: string) {
    // As on a closed WebSocket: nothing. Its shard let it go already; a close sent now could only
    // reach a newer socket of the same id (y-partykit's onConnect closes each connection it saw close).
    if (this.readyState === 3) return;
    if (this.readyState < 2) this.readyState = 2;
    this.flushKept();
    this.out({ t: "close", to: this.id, ...this.at(), code, reason });
  }
  accept() {}

  /**
   * Runs this connection's handlers in the order its events came. `wait`: later events wait for
   * this one to finish (onConnect, as PartyKit answers a socket only after it); otherwise they
   * start in order and may interleave at awaits, as on a direct socket.
   */
  run(handler: () => unknown, wait: boolean): Promise<void> {
    // A throw is only logged, as both platforms do for a direct socket's handlers.
    const done = this.tail.then(() => this.gate.when(handler)).then(
      () => undefined,
      (error: unknown) => console.error(error),
    );
    this.tail = wait ? done : this.tail.then(() => undefined);
    return done;
  }

  /** The highest write number taken from this connection (0: none), kept with its state. */
  get seqTaken(): number {
    return this.kept.seq ?? 0;
  }
  set seqTaken(seq: number) {
    this.kept.seq = seq;
  }
  /** Mirrors a new highest write number to the shard: once per request, not once per write. */
  mirrorSeq() {
    if (this.seqTaken === this.seqMirrored) return;
    this.seqMirrored = this.seqTaken;
    this.flushKept();
    this.out({ t: "taken", to: this.id, ...this.at(), seq: this.seqTaken });
  }

  /**
   * What it keeps goes to its shard at the end of this turn, once: a party sets tags, state and
   * attachment in one go as a client connects (a frame, and a write of the socket's state at the
   * shard, for each). Sooner when another frame for this socket goes: its shard sees them in order.
   */
  private mirror() {
    if (this.unmirrored) return;
    this.unmirrored = true;
    queueMicrotask(() => this.flushKept());
  }

  private flushKept() {
    if (!this.unmirrored) return;
    this.unmirrored = false;
    this.out({ t: "keep", to: this.id, ...this.at(), kept: this.kept });
  }

  /** Frames for this socket name it: a later socket of the same id gets none of them. */
  private at(): { at?: string } {
    return this.socketTag === undefined ? {} : { at: this.socketTag };
  }
}

/**
 * A shard client's request as the party would have had it directly: the URL it used, its headers
 * after the party's onBeforeConnect, and the platform's `cf` as the router's edge saw it.
 */
function connectRequest(uri: string, headers: [string, string][], cf: string | undefined): Request {
  const init: RequestInit & { cf?: unknown } = { headers };
  try {
    if (cf !== undefined) init.cf = JSON.parse(decodeURIComponent(cf));
  } catch {
    // Only the router writes it; one that does not parse is left out.
  }
  return new Request(uri, init);
}

/** The room's connection `id`: a client on a shard first (a direct socket with its id is an impostor, closed as it came), then one leaving, then a direct socket. */
function roomConnection(id: string, remotes: ReadonlyMap<string, RemoteConnection>, leaving: ReadonlySet<RemoteConnection>, host: Pick<LeaderHost, "directConnection">): Conn | undefined {
  const remote = remotes.get(id);
  if (remote?.met) return remote;
  for (const left of Array.from(leaving)) if (left.id === id) return left;
  return remote ? undefined : host.directConnection(id);
}

/** Every connection of the room: direct sockets, clients on shards the party met, and those leaving (their onClose not started). */
function roomConnections(tag: string | undefined, remotes: ReadonlyMap<string, RemoteConnection>, leaving: ReadonlySet<RemoteConnection>, host: Pick<LeaderHost, "directConnections">): Conn[] {
  const all: Conn[] = host.directConnections(tag).filter((direct) => !remotes.has(direct.id));
  remotes.forEach((remote) => {
    if (remote.met && (tag === undefined || remote.hasTag(tag))) all.push(remote);
  });
  leaving.forEach((left) => {
    if (tag === undefined || left.hasTag(tag)) all.push(left);
  });
  return all;
}

export { RemoteConnection, connectRequest, roomConnection, roomConnections };

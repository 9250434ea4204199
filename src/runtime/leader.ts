/**
 * The leader: the party's own room (same id, same storage), where the party's code runs, once per
 * event, for clients on every shard.
 *
 * Invariants:
 * - each shard's frames are taken in the order it numbered them, each once: a repeat (its ack was
 *   lost with a link) is acknowledged again, never run again;
 * - a client's handlers run in the order its events came (RemoteConnection.run), onConnect first;
 * - an id is one client: a second socket with that id takes it over only with the same key, or
 *   as its owner back within ID_GRACE_MS of leaving (DepartedIds); a socket without a key, or
 *   with the id of a direct socket, takes none;
 * - after a wake or restart, nothing reaches the party before the shards said who is connected,
 *   those asleep included (leader-resync.ts).
 */
import type { Conn, LeaderHost, LinkEnd, PartyCalls } from "./host.js";
import { InputGate } from "./input-gate.js";
import { Fanout, carriedOver, closedIn, type ShardState } from "./leader-fanout.js";
import { DepartedIds } from "./leader-ids.js";
import { LeaderWrites } from "./leader-writes.js";
import { unpack } from "./link-frames.js";
import { ID_GRACE_MS, closeReason, decode, injectedFault, isLink, linkShard, sameClient } from "./protocol.js";
import type { Kept, Message, RelayFrame, ShardFrame } from "./protocol.js";
import { Resync } from "./leader-resync.js";
import { WaitingOpens } from "./leader-replace.js";
import { RemoteConnection, connectRequest, roomConnection, roomConnections } from "./remote-connection.js";

class LeaderCore {
  private readonly remotes = new Map<string, RemoteConnection>();
  /** Clients gone whose onClose has not started: still the room's connections, as a closing socket is. */
  private readonly leaving = new Set<RemoteConnection>();
  /** Ids of the clients the party has met, per shard, and of those opened but not met yet: what a broadcast reaches, without a look at every client. */
  private readonly metByShard = new Map<number, Set<string>>();
  private readonly unmet = new Set<string>();
  private readonly audience = { met: this.metByShard, find: (id: string) => placed(this.remotes.get(id)), waitingOn: (shard: number) => this.waiting.idsOn(shard) };
  /** Keyed clients whose last socket closed, within ID_GRACE_MS: their ids are still theirs. */
  private readonly departed = new DepartedIds();
  private readonly shards = new Map<number, ShardState>();
  private started: Promise<void> = Promise.resolve();
  /** The room id the shards named (see roomId). */
  private namedByShards: string | undefined;
  /** Hellos taken from each shard: which of its frames came after which hello. */
  private readonly hellos = new Map<number, number>();
  /** Frames from shards, taken one after another. */
  private frames: Promise<void> = Promise.resolve();
  /** Reconnects' opens waiting for their old socket's close on another shard (leader-replace.ts). */
  private readonly waiting = new WaitingOpens<RemoteConnection>({
    turn: (step) => void (this.frames = this.frames.then(step).catch((error: unknown) => console.error("party-shard: a reconnect's frames failed", error))),
    ready: (shard) => this.ready(shard),
    apply: (shard, frame) => this.apply(shard, frame),
    taken: (shard, waiting) => this.openTaken(shard, waiting),
    existing: (id) => this.remotes.get(id),
    mark: (shard) => this.fanout.mark(shard),
  });

  /** For the load view: invocations (link messages in, requests), messages handed to the party, storage operations (none: shards store what it keeps), and when this memory began. */
  readonly counts = { events: 0, messages: 0, linkFramesIn: 0, storageOps: 0, startedAt: Date.now() };
  readonly fanout: Fanout;
  /** Wraps the party's storage (the hosts' room view): no frame reaches the party while a call of it is in flight (input-gate.ts). */
  readonly gate = new InputGate();
  private readonly writes: LeaderWrites;
  private readonly resync: Resync;

  constructor(
    private readonly host: LeaderHost,
    private readonly party: PartyCalls,
  ) {
    this.fanout = new Fanout(host, this.shards, () => this.roomId(), this.audience, (shard, n) => this.waiting.got(shard, n));
    this.writes = new LeaderWrites(this);
    this.resync = new Resync(host, (link, frame) => this.fanout.toLink(link, frame), () => this.roomId());
  }

  get env(): Record<string, unknown> {
    return this.host.env;
  }

  /**
   * The room's id. PartyKit hides it from a room its alarm started (reading it throws), and the
   * room keeps no other way to learn it: the shards' hellos name the room they link to.
   */
  roomId(): string {
    try {
      return this.host.id;
    } catch (error) {
      if (this.namedByShards !== undefined) return this.namedByShards;
      throw error;
    }
  }

  remote(id: string): RemoteConnection | undefined {
    return this.remotes.get(id);
  }

  /**
   * Runs before the party's own onStart. Woken from hibernation (or evicted while shards kept
   * their links), the leader has its links but not its clients: each shard tells it.
   */
  start(): Promise<void> {
    const { linked, all } = this.resync.run();
    this.started = all;
    return linked;
  }

  /** Resolves once the shards told a starting leader who is connected (or they took too long: leader-resync.ts). */
  heardShards(): Promise<void> {
    return this.started;
  }

  /** Whether a client of this id is connected through a shard. */
  onShard(id: string): boolean {
    return this.remotes.has(id);
  }

  /** A link closed: what the party sends its shard meanwhile waits for the next one. */
  onLinkClose(link: LinkEnd): void {
    this.fanout.linkClosed(linkShard(link.id), link);
  }

  /** The requests the runtime answers itself: its stats and routed writes (leader-writes.ts). Undefined: the request is the party's. */
  async request(req: Request): Promise<Response | undefined> {
    // Every request is an invocation of this room, the view's own included.
    this.counts.events++;
    return this.writes.answer(req, () => ({ ...this.fanout.stats, ...this.writes.stats, ...this.counts }));
  }

  // ─── Frames from shards ───

  /** A link message from a shard: a hello, one frame, or several (`frames`) acknowledged once. */
  onLinkFrame(link: LinkEnd, raw: Message): Promise<void> {
    this.counts.events++;
    this.counts.linkFramesIn++;
    const frame = unpack<ShardFrame>(raw);
    const shard = linkShard(link.id);
    if (frame.t === "hello") {
      // Taken at once: a starting room waits for the hellos (resync).
      this.namedByShards ??= frame.room;
      this.hellos.set(shard, (this.hellos.get(shard) ?? 0) + 1);
      return Promise.resolve(this.onHello(shard, link, frame));
    }
    if (frame.t === "got") return Promise.resolve(this.fanout.gotOn(shard, link, frame.n));
    const frames = frame.t === "frames" ? frame.frames : [frame];
    // Each frame in a turn of its own, as when they came one by one: a handler starts before the next is taken.
    frames.forEach((each, i) => this.takeInTurn(shard, link, each, i === frames.length - 1));
    // After its frames: what waits for this `got` (leader-replace.ts) runs after them.
    if (frame.t === "frames" && frame.got !== undefined) this.fanout.gotOn(shard, link, frame.got);
    return this.frames;
  }

  /** A shard's frame after those before it, once the room started and heard its shards (a frame after a wake may start it). */
  private takeInTurn(shard: number, link: LinkEnd, frame: RelayFrame, last: boolean) {
    void this.inTurn(async () => this.takeFrame(shard, link, frame, last, await this.ready(shard)), `a frame from shard ${shard}`).catch(() => undefined);
  }

  /** `take` once what was taken before it (frames, writes by request: leader-writes.ts) was. The chain is never rejected to the platform: a throw out of a socket's handler resets the object (and the frames it keeps). */
  inTurn<T>(take: () => Promise<T>, what = "a write"): Promise<T> {
    const turn = this.frames.then(take);
    this.frames = turn.then(() => undefined, (error: unknown) => console.error(`party-shard: ${what} failed`, error));
    return turn;
  }

  /** Whether the room started (and heard its shards), once no storage call is in flight; false: it did not, and a frame from `shard` is lost. */
  private async ready(shard: number): Promise<boolean> {
    const started = await (this.host.ready?.() ?? Promise.resolve()).then(() => true, (error: unknown) => void console.error("party-shard: the room did not start; a frame from shard", shard, "is dropped", error));
    const heard = started === true && (await this.started.then(() => true));
    await this.gate.open();
    return heard;
  }

  /**
   * `ack`: the last frame of its link message, acknowledged with every frame before it. `started`
   * false: the room did not start (onStart threw), so the frame is lost as a direct socket's event
   * would be (lost()), yet taken and acknowledged: the shard's later frames must not wait behind it.
   */
  private takeFrame(shard: number, link: LinkEnd, frame: RelayFrame, ack: boolean, started = true) {
    const state = this.shards.get(shard);
    // This leader started afresh and the shard has not said hello: its hello brings this frame again.
    if (!state) return this.resync.askHello(shard, link, this.hellos.get(shard) ?? 0);
    // Frames still arriving on a link this leader dropped are sent again on the next one.
    if (state.linkId !== link.id) return;
    // A repeat (its ack was lost with a link) is acknowledged again, never run again.
    let taking: Promise<void> | undefined;
    if (frame.seq > state.processed) {
      const fault = injectedFault(this.host.env, frame.retry, `a ${frame.t} frame`);
      if (fault === "before") return this.dropLink(state, link);
      state.processed = frame.seq;
      // A reconnect's open waits for its old socket on another shard to close, and its socket's frames behind it (leader-replace.ts).
      const behind = frame.t === "open" && started ? this.waiting.behind(shard, frame, this.remotes.get(frame.id)) : undefined;
      // A routed write (shard-writes.ts): the next frame waits for it to be taken; answered on the link, unless the shard started afresh meanwhile.
      if (frame.t === "write") taking = this.writes.linked(frame, started, (answer) => this.shards.get(shard) === state && this.fanout.toShard(shard, { t: "wrote", seq: frame.seq, ...answer }));
      else if (behind) this.waiting.wait(shard, behind, { frame, started });
      else if (this.waiting.holds(shard, frame)) this.waiting.hold(shard, { frame, started });
      else if (started) this.apply(shard, frame);
      else this.lost(shard, frame);
      if (fault === "after") return this.dropLink(state, link);
    }
    if (ack) this.fanout.toLink(link, { t: "ack", seq: state.processed, ...this.waiting.on(shard) });
    return taking;
  }

  /** A waiting open ran: its shard hears it (the client's 101 goes) after the broadcasts held to coalesce, made before the party met it. */
  private openTaken(shard: number, waiting: { waiting?: number[] }) {
    this.fanout.releaseHeld(shard);
    const state = this.shards.get(shard);
    const link = state?.linkId === undefined ? undefined : this.host.link(state.linkId);
    if (state && link) this.fanout.toLink(link, { t: "ack", seq: state.processed, ...waiting });
  }

  /** A frame of a room that did not start: an open is closed 1011, as PartyServer closes a direct socket then (its client reconnects, which tries the start again); a close forgets its client without onClose. */
  private lost(shard: number, frame: RelayFrame) {
    if (frame.t === "open") return this.fanout.toShard(shard, { t: "close", to: frame.id, ...(frame.socket ? { at: frame.socket } : {}), code: 1011, reason: "Uncaught exception during session setup" });
    const remote = this.remotes.get(frame.id);
    if (frame.t === "close" && remote?.shard === shard) this.forget(remote);
  }

  /** An injected fault: the link breaks; what the party sends meanwhile waits for the next one. */
  private dropLink(state: ShardState, link: LinkEnd) {
    state.linkId = undefined;
    link.close(1011, "injected fault");
  }

  private onHello(shard: number, link: LinkEnd, hello: Extract<ShardFrame, { t: "hello" }>) {
    let state = this.shards.get(shard);
    // A hello sent on a link the shard has since replaced, arriving late: the later hello stands.
    if (state?.incarnation === hello.incarnation && (hello.n ?? 0) < state.hellos) return;
    if (state?.incarnation !== hello.incarnation) {
      // A shard (or this leader) we have not met: its clients are as it says, up to what was acked (an id given since to a socket on another shard stays its).
      const listed = new Set(hello.clients.map((client) => client.id));
      for (const remote of this.remotesOn(shard)) if (!listed.has(remote.id)) this.gone(remote, 1006, "shard restarted");
      // Nor is a listed socket this leader closed there: its onClose ran, and its close is carried over.
      const closed = closedIn(state?.kept ?? []);
      for (const client of hello.clients) if (!this.remotes.has(client.id) && !closed.has(`${client.id} ${client.socket}`)) this.addRemote(shard, client.id, client.uri, client.key, client.kept, client.socket);
      // A leader woken from hibernation forgot who left lately: the shards remember (older shards name none).
      for (const entry of hello.left ?? []) if (!this.remotes.has(entry.id)) this.departed.remember(entry);
      // What waited for the old incarnation (held broadcasts too, numbered by it) goes only to the
      // clients it still has (sockets that outlived its memory), as its numbering started again.
      if (state) this.fanout.releaseHeld(shard);
      const carried = state ? carriedOver(state.kept, listed) : [];
      // Frames dropped for the old incarnation: its clients that outlived it are closed to reconnect.
      const droppedUpTo = state && state.droppedUpTo > 0 ? Number.MAX_SAFE_INTEGER : 0;
      state = { incarnation: hello.incarnation, hellos: 0, processed: hello.acked, linkId: undefined, n: 0, kept: [], keptBytes: 0, droppedUpTo, wokeAt: 0 };
      this.shards.set(shard, state);
      this.fanout.adopt(shard, state, carried);
      this.waiting.drop(shard);
    }
    state.linkId = link.id;
    state.hellos = hello.n ?? 0;
    state.batches = hello.batches === true;
    // What it took and which opens wait (an ack saying so may have been lost), before the frames it sends again.
    this.fanout.toLink(link, { t: "ack", seq: state.processed, ...this.waiting.on(shard) });
    if (this.fanout.relinked(state, link, hello)) {
      // Frames for this shard's clients were dropped before it got them: rather than miss them
      // silently, each client is closed to reconnect and be greeted again.
      for (const remote of this.remotesOn(shard)) remote.close(1013, "Try Again Later");
    }
    this.waiting.relinked(shard);
    this.resync.heard(shard);
  }

  /** The clients on `shard`, as an array: what is done to each may remove it from `remotes`. */
  private remotesOn(shard: number): RemoteConnection[] {
    return Array.from(this.remotes.values()).filter((remote) => remote.shard === shard);
  }

  private apply(shard: number, frame: RelayFrame) {
    if (frame.t === "open") {
      const key = frame.key;
      const existing = this.remotes.get(frame.id);
      const same = existing !== undefined && sameClient(existing.key, key);
      if (existing && !same) {
        // An id is public: another key may not take it from its socket, unless it is the id's
        // owner coming back (within ID_GRACE_MS) to whoever took it while it was away.
        if (!this.departed.owns(frame.id, key)) return this.refuseOpen(shard, frame);
        if (existing.shard !== shard) existing.close(1008, "Connection id in use");
        this.gone(existing, 1008, "Connection id in use", false);
      } else if (!existing && this.host.directConnection(frame.id)) {
        // A direct socket's id is its own (PartyServer refuses the reverse, PartyKit's wrapper too).
        return this.refuseOpen(shard, frame);
      }
      if (existing && same) {
        // The same client again: its old socket goes, as a reconnect would. On another shard it
        // is closed there; on this shard the shard already let it go (a close sent now would
        // reach the new socket, the only one of that id it still has open).
        if (existing.shard !== shard) existing.close(1000, "Reconnected");
        this.gone(existing, 1000, "Reconnected", false);
      }
      // Its writes' numbers go on: a write the old socket abandoned must not run after a newer one.
      // On the same shard its close came first (the old remote is gone): the shard names the number.
      const seq = Math.max(existing && same ? existing.seqTaken : 0, frame.taken ?? 0, this.departed.claim(frame.id, key));
      // Until its onConnect starts (met), the old socket's onClose (queued above) must not meet it.
      const remote = this.addRemote(shard, frame.id, frame.uri, key, { state: null, attachment: null, tags: [], ...(seq ? { seq } : {}) }, frame.socket, false);
      remote.run(() => this.onRemoteConnect(remote, frame.headers, frame.cf), true);
      return;
    }
    const remote = this.remotes.get(frame.id);
    if (remote?.shard !== shard) return;
    if (frame.t === "message") {
      const message = decode(frame.data);
      this.fanout.holdAWhile();
      remote.run(() => this.deliver(remote, message), false);
    } else if (frame.t === "close") {
      // Displaced by its id's owner (on its shard): it never owned the id, so leaves no claim on it.
      this.gone(remote, frame.code, frame.reason, frame.displaced !== true);
    } else if (frame.t === "error") {
      remote.run(() => this.party.error?.(remote, new Error(frame.error)), false);
    }
  }

  /** A socket that may not have its id: its shard closes it, and the party never meets it. */
  private refuseOpen(shard: number, open: { id: string; socket?: string | undefined }) {
    this.fanout.toShard(shard, { t: "close", to: open.id, ...(open.socket ? { at: open.socket } : {}), code: 1008, reason: "Connection id in use", refused: true });
  }

  private async onRemoteConnect(remote: RemoteConnection, headers: [string, string][], cf: string | undefined) {
    const ctx = { request: connectRequest(remote.uri, headers, cf) };
    const tags = ((await this.party.tags?.(remote, ctx)) ?? []) as string[];
    remote.setTags([remote.id, ...tags.filter((tag) => tag !== remote.id)]);
    this.meet(remote);
    try {
      await this.party.connect?.(remote, ctx);
    } catch (error) {
      // As both platforms do for a direct socket whose onConnect throws: logged, and closed 1011.
      console.error("Error when connecting", error);
      remote.close(1011, closeReason(error instanceof Error ? error.message : "Uncaught exception when connecting"));
    }
  }

  deliver(remote: RemoteConnection, message: string | ArrayBuffer) {
    this.counts.messages++;
    remote.dispatchEvent(new MessageEvent("message", { data: message }));
    return this.party.message?.(remote, message);
  }

  /** A client leaves; `departed`: it left on its own (closed, or its shard restarted), and may come back to its id. */
  private gone(remote: RemoteConnection, code: number, reason: string, departed = true) {
    this.forget(remote);
    if (departed && remote.key !== null) this.departed.remember({ id: remote.id, key: remote.key, seq: remote.seqTaken, until: Date.now() + ID_GRACE_MS });
    remote.readyState = 3;
    this.leaving.add(remote);
    remote.run(() => {
      this.leaving.delete(remote);
      remote.dispatchEvent(new CloseEvent("close", { code, reason }));
      return this.party.close?.(remote, code, reason, true);
    }, false);
  }

  /** The client is none of the room's connections any more. */
  private forget(remote: RemoteConnection) {
    this.waiting.gone(remote);
    this.remotes.delete(remote.id);
    this.metByShard.get(remote.shard)?.delete(remote.id);
    this.unmet.delete(remote.id);
  }

  /**
   * `uri`: as the shard names it, the URL the client would have used without the router. `met`:
   * false for a socket whose onConnect is still to run; a client a shard's hello names was met.
   */
  private addRemote(shard: number, id: string, uri: string, key: string | null, kept: Kept, socket: string | undefined, met = true): RemoteConnection {
    const before = this.remotes.get(id);
    if (before) this.forget(before);
    const remote = new RemoteConnection(id, uri, this.roomId(), shard, key, socket, kept, this.host.hibernates, (frame) => this.fanout.toShard(shard, frame), this.gate);
    this.remotes.set(id, remote);
    this.unmet.add(id);
    if (met) this.meet(remote);
    return remote;
  }

  /** The party meets a client (its onConnect starts): from now on it is one of the room's connections. */
  private meet(remote: RemoteConnection) {
    remote.met = true;
    if (this.remotes.get(remote.id) !== remote) return;
    this.unmet.delete(remote.id);
    let ids = this.metByShard.get(remote.shard);
    if (!ids) this.metByShard.set(remote.shard, (ids = new Set()));
    ids.add(remote.id);
  }

  // ─── What the party sees ───

  /** A connection of the room: a direct socket, or a client on a shard (remote-connection.ts). */
  connection(id: string): Conn | undefined {
    return isLink(id) ? undefined : roomConnection(id, this.remotes, this.leaving, this.host);
  }

  /** Every connection of the room, on every shard. */
  connections(tag?: string): Conn[] {
    return roomConnections(tag, this.remotes, this.leaving, this.host);
  }

  /** Direct clients one by one; each shard gets one frame, whatever its number of clients. */
  broadcast(message: Message, without: readonly string[] = []) {
    // A socket whose onConnect has not started is left out on its shard, as it is not a connection yet.
    this.fanout.broadcast(message, this.unmet.size > 0 ? without.concat(Array.from(this.unmet)) : without);
  }
}

const placed = (remote: RemoteConnection | undefined) => remote && { shard: remote.shard, met: remote.met };

export { LeaderCore };

/**
 * The leader: the party's own room (same id, same storage), where the party's code runs, once per
 * event, for clients on every shard.
 *
 * Invariants:
 * - each shard's frames are taken in the order it numbered them, each once: a repeat (its ack was
 *   lost with a link) is acknowledged again, never run again;
 * - a client's handlers run in the order its events came (RemoteConnection.run), onConnect first;
 * - an id is one client: a second socket with that id takes it over only with the same key;
 * - after a wake or restart, nothing reaches the party before the shards said who is connected
 *   (at most RESYNC_TIMEOUT_MS).
 */
import type { Conn, LeaderHost, LinkEnd, PartyCalls } from "./host.js";
import { Fanout, carriedOver, type ShardState } from "./leader-fanout.js";
import { LeaderWrites } from "./leader-writes.js";
import { BATCH_TYPE, HEADER, closeReason, deadlineIn, decode, injectedFault, isLink, linkShard, sameClient } from "./protocol.js";
import type { Delivery, Kept, LeaderFrame, Message, RelayFrame, ShardFrame } from "./protocol.js";
import { RemoteConnection } from "./remote-connection.js";

/** Frames a shard's link may bring ahead of an earlier one still on its way (see takeFrame). */
const MAX_EARLY_FRAMES = 1_024;
/** How long a woken leader waits for its shards to tell it who is connected. */
const RESYNC_TIMEOUT_MS = 5_000;

class LeaderCore {
  private readonly remotes = new Map<string, RemoteConnection>();
  private readonly shards = new Map<number, ShardState>();
  private readonly waitingHello = new Map<number, () => void>();
  private started: Promise<void> = Promise.resolve();
  /** Questions this leader asked its shards (see ask). */
  private readonly asks = new Set<string>();
  /** The room id the shards named (see roomId). */
  private namedByShards: string | undefined;
  /** Hellos taken from each shard: which of its frames came after which hello. */
  private readonly hellos = new Map<number, number>();
  /** Shards asked for a hello, by the hellos taken from them then: asked once until one comes. */
  private readonly askedHello = new Map<number, number>();
  /** Frames that met a failed start, by shard and number: acknowledged in their turn, never run. */
  private readonly refused = new Map<number, Set<number>>();
  /** Frames from shards, taken one after another. */
  private frames: Promise<void> = Promise.resolve();
  readonly fanout: Fanout;
  private readonly writes: LeaderWrites;

  constructor(
    private readonly host: LeaderHost,
    private readonly party: PartyCalls,
  ) {
    this.fanout = new Fanout(host, this.shards, () => this.roomId());
    this.writes = new LeaderWrites(this);
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
    const links = [...this.host.links()];
    const heard = (shard: number) => new Promise<void>((resolve) => this.waitingHello.set(shard, resolve));
    const linked = links.map((link) => {
      this.ask(link);
      return heard(linkShard(link.id));
    });
    // A shard with clients whose link is down (it broke while this leader slept) is woken and
    // waited for too: its clients are the room's as much as any. Not by what start returns:
    // PartyKit holds a new link until the room's onStart ends, so waiting there would wait for
    // nothing but the timeout.
    const unlinked = this.shardsWithClients().then((shards) => {
      const known = new Set(links.map((link) => linkShard(link.id)));
      // One that linked while the placement room answered has said hello already.
      return shards.filter((shard) => !known.has(shard) && this.shards.get(shard)?.linkId === undefined).map((shard) => {
        const hello = heard(shard);
        this.fanout.wakeShard(shard);
        return hello;
      });
    });
    // Cleared once heard: a timer left running keeps the room in memory.
    const deadline = deadlineIn(RESYNC_TIMEOUT_MS);
    this.started = Promise.race([unlinked.then((more) => Promise.all([...linked, ...more])), deadline.passed]).then(deadline.clear);
    return Promise.race([Promise.all(linked), deadline.passed]).then(() => undefined);
  }

  /** The shards that hold clients, as the placement room counts them; none if it cannot tell. */
  private async shardsWithClients(): Promise<number[]> {
    try {
      const res = await this.host.routerRoom(this.roomId())("", { method: "GET", headers: { [HEADER.clients]: "1" } });
      const { load } = (await res.json()) as { load: number[] };
      return load.flatMap((count, i) => (count > 0 ? [i + 1] : []));
    } catch {
      // No placement room to ask (an older router, or PartyKit hiding the room id in onAlarm):
      // the shards link again on their own.
      return [];
    }
  }

  /** Resolves once the shards told a starting leader who is connected (or RESYNC_TIMEOUT_MS passed). */
  heardShards(): Promise<void> {
    return this.started;
  }

  /** Whether a client of this id is connected through a shard. */
  onShard(id: string): boolean {
    return this.remotes.has(id);
  }

  /** A link closed: what the party sends its shard meanwhile waits for the next one. */
  onLinkClose(link: LinkEnd): void {
    const state = this.shards.get(linkShard(link.id));
    if (state?.linkId === link.id) state.linkId = undefined;
    if (state && state.outbox.length > 0) this.fanout.wakeShard(linkShard(link.id));
  }

  /**
   * The requests the runtime answers itself: its stats and routed writes. A forwarded request
   * may meet an injected fault. Undefined: the request is the party's.
   */
  async request(req: Request): Promise<Response | undefined> {
    if (req.headers.has(HEADER.stats)) return Response.json(this.fanout.stats);
    if (req.headers.has(HEADER.connection)) return req.headers.get("content-type") === BATCH_TYPE ? this.writes.writeBatch(req) : this.writes.write(req);
    if (req.headers.has(HEADER.forwarded) && injectedFault(this.host.env, req.headers.get(HEADER.attempt) !== "1", "a forwarded request") === "before") {
      return new Response("injected fault", { status: 503 });
    }
    return undefined;
  }

  // ─── Frames from shards ───

  /** A frame a shard sent over its link. */
  onLinkFrame(link: LinkEnd, raw: Message): Promise<void> {
    const frame = JSON.parse(typeof raw === "string" ? raw : new TextDecoder().decode(raw)) as ShardFrame;
    const shard = linkShard(link.id);
    // A hello is taken at once: a starting room waits for the hellos (resync).
    if (frame.t === "hello") {
      this.namedByShards ??= frame.room;
      this.hellos.set(shard, (this.hellos.get(shard) ?? 0) + 1);
      return Promise.resolve(this.onHello(shard, link, frame));
    }
    if (frame.t === "got") {
      const state = this.shards.get(shard);
      if (state?.linkId === link.id) this.fanout.got(state, frame.n);
      return Promise.resolve();
    }
    // The rest in the order they came, once the room has started and heard its shards: the
    // first frame after a wake may have to start it, and none may overtake it meanwhile.
    const turn = this.frames.then(async () => {
      try {
        await this.host.ready?.();
      } catch (error) {
        // The room did not start (its onStart threw; the next event tries again). As for a
        // direct socket, the event that met it is lost: an open is closed 1011 (its client
        // reconnects), a message never reaches onMessage. Taken in its turn, never run, so the
        // shard does not send it again; what the room threw is for the server log, not the client.
        if (frame.t === "open") this.fanout.toShard(shard, { t: "close", to: frame.id, code: 1011, reason: "Uncaught exception during session setup" });
        this.refused.set(shard, (this.refused.get(shard) ?? new Set()).add(frame.seq));
        this.takeFrame(shard, link, frame);
        throw error;
      }
      await this.started;
      this.takeFrame(shard, link, frame);
    });
    this.frames = turn.catch((error: unknown) => console.error("party-shard: a frame from shard", shard, "failed", error));
    return turn;
  }

  private takeFrame(shard: number, link: LinkEnd, frame: RelayFrame) {
    const state = this.shards.get(shard);
    // This leader started afresh and the shard has not said hello yet: its hello is followed by
    // everything not acknowledged, this frame too.
    if (!state) return this.askHello(shard, link, this.hellos.get(shard) ?? 0);
    // Frames still arriving on a link this leader dropped are sent again on the next one.
    if (state.linkId !== link.id) return;
    // A repeat (its ack was lost: a fault broke the link after the frame ran) is acknowledged
    // again: a shard still holding it would resend it to a leader that started afresh, which
    // would run it twice (an open: onConnect again for a live socket).
    if (frame.seq <= state.processed) return link.send(JSON.stringify({ t: "ack", seq: state.processed } satisfies LeaderFrame));
    if (frame.seq > state.processed + 1) {
      // An earlier frame of this link is still to come: PartyKit hands a waking room the message
      // that woke it only once its onStart ended, and later ones before. Taken in the shard's order.
      state.early.set(frame.seq, frame);
      if (state.early.size > MAX_EARLY_FRAMES) {
        state.early.clear();
        this.askHello(shard, link, this.hellos.get(shard) ?? 0);
      }
      return;
    }
    for (let next: RelayFrame | undefined = frame; next; next = state.early.get(state.processed + 1)) {
      state.early.delete(next.seq);
      const fault = injectedFault(this.host.env, next.retry, `a ${next.t} frame`);
      if (fault === "before") return this.dropLink(state, link);
      state.processed = next.seq;
      if (!this.refused.get(shard)?.delete(next.seq)) this.apply(shard, next);
      if (fault === "after") return this.dropLink(state, link);
      link.send(JSON.stringify({ t: "ack", seq: next.seq } satisfies LeaderFrame));
    }
  }

  /** Asks a shard for a hello, once for all the frames that came after its hello number `since`. */
  private askHello(shard: number, link: LinkEnd, since: number) {
    if (this.askedHello.get(shard) === since) return;
    this.askedHello.set(shard, since);
    this.ask(link);
  }

  /**
   * Asks a shard who is connected. Only the answer to this leader's own question is taken: one
   * to a question an earlier incarnation asked can be older than what that incarnation took
   * from the shard (its acknowledgement was still on the way), and would run those frames again.
   */
  private ask(link: LinkEnd) {
    const ask = crypto.randomUUID();
    this.asks.add(ask);
    link.send(JSON.stringify({ t: "resync", ask } satisfies LeaderFrame));
  }

  /** An injected fault: the link breaks; what the party sends meanwhile waits for the next one. */
  private dropLink(state: ShardState, link: LinkEnd) {
    state.linkId = undefined;
    link.close(1011, "injected fault");
  }

  private onHello(shard: number, link: LinkEnd, hello: Extract<ShardFrame, { t: "hello" }>) {
    if (hello.answers !== undefined && !this.asks.delete(hello.answers)) return;
    let state = this.shards.get(shard);
    // A hello late on a link the shard has since replaced, or from an incarnation that is gone,
    // must not make that link the current one: frames on the live link would be ignored for good.
    if (state && (state.incarnation === hello.incarnation ? hello.link < state.link : hello.epoch < state.epoch)) {
      link.close(1000, "Replaced by a newer link");
      return;
    }
    if (state?.incarnation !== hello.incarnation) {
      // A shard (or this leader) we have not met: its clients are as it says, up to what was acked.
      // Its frames are numbered afresh: what an earlier incarnation's numbers meant is gone.
      if (state) this.refused.delete(shard);
      const listed = new Set(hello.clients.map((client) => client.id));
      for (const remote of this.remotes.values()) {
        if (remote.shard === shard && !listed.has(remote.id)) this.gone(remote, 1006, "shard restarted");
      }
      for (const client of hello.clients) {
        if (this.remotes.get(client.id)?.shard !== shard) this.addRemote(shard, client.id, client.uri, client.key, client.kept);
      }
      // Numbered on from what the shard got: this leader may be new to a shard it had before.
      const carried = state ? carriedOver(state.outbox, listed, hello.heard) : { entries: [], lost: false };
      state = {
        incarnation: hello.incarnation,
        epoch: hello.epoch,
        link: hello.link,
        processed: hello.acked,
        linkId: undefined,
        outbox: carried.entries,
        outboxBytes: carried.entries.reduce((bytes, entry) => bytes + entry.text.length, 0),
        numbered: hello.heard + carried.entries.length,
        progressAt: Date.now(),
        early: new Map(),
        overflowed: (state?.overflowed ?? false) || carried.lost,
      };
      this.shards.set(shard, state);
    }
    state.link = hello.link;
    state.linkId = link.id;
    // What came early on an earlier link is sent again after this hello.
    state.early.clear();
    // What this leader took that the shard does not know of (the ack was lost with a link).
    if (state.processed > hello.acked) link.send(JSON.stringify({ t: "ack", seq: state.processed } satisfies LeaderFrame));
    this.fanout.resume(state, link, hello.heard);
    if (state.overflowed) {
      // Frames for this shard's clients were dropped, or may not have been carried out: rather
      // than miss them silently, each client is closed to reconnect and be greeted again.
      state.overflowed = false;
      for (const remote of this.remotes.values()) if (remote.shard === shard) remote.close(1013, "Try Again Later");
    }
    this.waitingHello.get(shard)?.();
    this.waitingHello.delete(shard);
  }

  private apply(shard: number, frame: RelayFrame) {
    if (frame.t === "open") {
      const key = frame.key;
      const existing = this.remotes.get(frame.id);
      if (existing && !sameClient(existing.key, key)) {
        // An id is public; only the client holding its key may take it over.
        this.fanout.toShard(shard, { t: "close", to: frame.id, code: 1008, reason: "Connection id in use" });
        return;
      }
      if (existing) {
        // The same client again: its old socket goes, as a reconnect would. On another shard it
        // is closed there; on this shard the shard already let it go (a close sent now would
        // reach the new socket, the only one of that id it still has open).
        if (existing.shard !== shard) existing.close(1000, "Reconnected");
        this.gone(existing, 1000, "Reconnected");
      }
      // Its writes' numbers go on: a write the old socket abandoned must not run after a newer one.
      // On the same shard its close came first (the old remote is gone): the shard names the number.
      const seq = Math.max(existing?.seqTaken ?? 0, frame.taken ?? 0);
      const remote = this.addRemote(shard, frame.id, frame.uri, key, { state: null, attachment: null, tags: [], ...(seq ? { seq } : {}) });
      remote.run(() => this.onRemoteConnect(remote, frame.headers), true);
      return;
    }
    const remote = this.remotes.get(frame.id);
    if (remote?.shard !== shard) return;
    if (frame.t === "message") {
      const message = decode(frame.data);
      this.fanout.holdAWhile();
      remote.run(() => this.deliver(remote, message), false);
    } else if (frame.t === "close") {
      this.gone(remote, frame.code, frame.reason);
    } else {
      remote.run(() => this.party.error?.(remote, new Error(frame.error)), false);
    }
  }

  private async onRemoteConnect(remote: RemoteConnection, headers: [string, string][]) {
    const ctx = { request: new Request(remote.uri, { headers }) };
    const tags = ((await this.party.tags?.(remote, ctx)) ?? []) as string[];
    remote.setTags([remote.id, ...tags.filter((tag) => tag !== remote.id)]);
    try {
      await this.party.connect?.(remote, ctx);
    } catch (error) {
      // As both platforms do for a direct socket whose onConnect throws: logged, and closed 1011.
      console.error("Error when connecting", error);
      remote.close(1011, closeReason(error instanceof Error ? error.message : "Uncaught exception when connecting"));
    }
  }

  deliver(remote: RemoteConnection, message: string | ArrayBuffer) {
    remote.dispatchEvent(new MessageEvent("message", { data: message }));
    return this.party.message?.(remote, message);
  }

  private gone(remote: RemoteConnection, code: number, reason: string) {
    this.remotes.delete(remote.id);
    remote.readyState = 3;
    remote.run(() => {
      remote.dispatchEvent(new CloseEvent("close", { code, reason }));
      return this.party.close?.(remote, code, reason, true);
    }, false);
  }

  /** `uri`: as the shard names it, the URL the client would have used without the router. */
  private addRemote(shard: number, id: string, uri: string, key: string | null, kept: Kept): RemoteConnection {
    const remote = new RemoteConnection(id, uri, this.roomId(), shard, key, kept, this.host.hibernates, (frame: Delivery) => this.fanout.toShard(shard, frame));
    this.remotes.set(id, remote);
    return remote;
  }


  // ─── What the party sees ───

  /** A connection of the room: a direct socket, or a client on a shard. */
  connection(id: string): Conn | undefined {
    if (isLink(id)) return undefined;
    return this.host.directConnection(id) ?? this.remotes.get(id);
  }

  /** Every connection of the room, on every shard. */
  *connections(tag?: string): Generator<Conn> {
    yield* this.host.directConnections(tag);
    for (const remote of this.remotes.values()) if (tag === undefined || remote.hasTag(tag)) yield remote;
  }


  /** Direct clients one by one; each shard gets one frame, whatever its number of clients. */
  broadcast(message: Message, without: readonly string[] = []) {
    this.fanout.broadcast(message, without, this.remotes.values());
  }
}

export { LeaderCore };

/**
 * A shard: a room of the router's party holding client sockets. It runs no party code; it relays
 * each socket's open, messages, close and errors to the leader over one WebSocket (its link), and
 * carries out what the leader sends back.
 *
 * Invariants:
 * - every relayed frame is numbered and kept until the leader acknowledges it, and sent again on
 *   the next link: the leader gets each once, in order (UNACKED_MAX_BYTES bounds what is kept);
 * - a client gets a broadcast only if the leader had taken its open when it broadcast (`upTo`);
 * - a client sees its socket open (onConnect returns, then the platform's 101) once the leader
 *   has taken its open, as unsharded the 101 follows the party's onConnect: what anyone sends
 *   after that reaches it (shard-opens.ts: at most OPEN_WAIT_MS, then it is greeted anyway);
 * - one socket per id: the same client (same key) replaces its old socket (once it closed, or
 *   REPLACE_WAIT_MS passed: shard-opens.ts), anyone else is refused; a free id is anyone's,
 *   but for ID_GRACE_MS after a keyed client left, that client
 *   takes it back from whoever took it meanwhile (the record stays, marked `left`, or as the new
 *   holder's `owner`, and the hello names it, so a woken leader hears of it);
 * - the client records (in the sockets' states, else storage) outlive the shard's memory, so a
 *   woken shard says who is here.
 */
import type { Conn, LinkSocket, RoomStorage, ShardHost } from "./host.js";
import { frameBytes, leaderFrames, packBatches, unpack } from "./link-frames.js";
import { LeaderInbox } from "./shard-inbox.js";
import { IdleLink } from "./shard-idle.js";
import { LoadReporter } from "./shard-load.js";
import { OpenWaits, NewSockets } from "./shard-opens.js";
import { IGNORED, ShardSockets, isIgnored, opened, recordOf, seqOf, tagOf, waitingOf } from "./shard-sockets.js";
import { ShardWrites } from "./shard-writes.js";
import { ClosingClients, Departures, counted, helloRecords, recordKeys, type StoredClient } from "./shard-records.js";
import { HEADER, ID_GRACE_MS, KEY_PARAM, LINK_ID_PREFIX, clientHeaders, decode, decodeId, encode, partyUri, sameClient } from "./protocol.js";
import type { Departed, Kept, LeaderFrame, Message, RelayFrame, ShardFrame, Unnumbered } from "./protocol.js";

/** Bytes of relayed frames a shard keeps until the leader acknowledges them, and the newest frame on top. */
const UNACKED_MAX_BYTES = 8_388_608;
/** Bytes of frames sent together in one link message (a bigger frame goes alone). */
const BATCH_MAX_BYTES = 1_048_576;
/** How long a client's message waits, with nothing in flight, for others that arrive meanwhile to share its link message (emit). */
const MERGE_MS = 5;
/** A shard reopening its link: backoff between attempts. */
const RELINK_BASE_MS = 50;
const RELINK_MAX_MS = 5_000;

class ShardRelay {
  /** Changes whenever this shard starts afresh, so the leader knows its numbering restarted. */
  private incarnation = crypto.randomUUID();
  private seq = 0;
  private acked = 0;
  /** The last frame sent on the current link: the frames after it wait until the leader acknowledges what it has. */
  private sent = 0;
  private readonly unacked: { frame: RelayFrame; bytes: number }[] = [];
  private unackedBytes = 0;
  /** The frame number of each client's open; before it the leader did not know the client. */
  private readonly openSeq = new Map<string, number>();
  /** Clients whose onConnect waits for the leader to take their open (shard-opens.ts). */
  private readonly opening = new OpenWaits();
  private readonly newSockets = new NewSockets();
  private readonly closing = new ClosingClients();
  private link: LinkSocket | undefined;
  private linking = false;
  private relinkAttempt = 0;
  private flush: ReturnType<typeof setTimeout> | undefined;
  /** A leader that does not hibernate stays in memory while it has clients, as unsharded: its links stay up; a link with nobody here (woken for frames to departed clients) closes soon whatever the party. */
  private readonly idle: IdleLink = new IdleLink(() => this.link !== undefined && this.unacked.length === 0 && !this.writes.onLink && (this.inbox.hibernates || this.idle.nobodyHere()), () => this.closeLink(this.link!, "idle"), () => this.sockets.count() === 0);
  /** Hellos sent by this incarnation: the leader takes none older than the last it took. */
  private hellos = 0;
  private readonly departures: Departures;
  /** This shard's storage, counting its operations since it started. */
  private readonly storage: RoomStorage;
  private storageOps = 0;
  private readonly inbox = new LeaderInbox(() => this.link, () => this.seq > this.sent);
  private readonly writes = new ShardWrites(() => this.host.leaderRoom(this.leaderRoom), { takes: (bytes) => this.link?.readyState === 1 && this.inbox.welcomed && this.inbox.writes && this.unackedBytes + bytes <= UNACKED_MAX_BYTES / 2, send: (id, headers, body) => this.emit({ t: "write", id, headers, data: { bytes: body } }) });
  private readonly sockets: ShardSockets;
  /** Tells the router's room how many clients this shard holds (shard-load.ts: coalesced). */
  private readonly load: LoadReporter;

  constructor(
    private readonly host: ShardHost,
    private readonly leaderRoom: string,
    private readonly shard: number,
  ) {
    this.load = new LoadReporter(host, leaderRoom, shard, () => this.sockets.count(), () => this.incarnation, () => this.storageOps, () => this.writes.requests);
    this.storage = counted(host.storage, () => this.storageOps++);
    this.departures = new Departures(this.storage);
    this.sockets = new ShardSockets(host, this.openSeq, (seq) => this.opening.holds(seq));
  }

  async onConnect(conn: Conn, ctx: { request: Request }) {
    // What it does is held until its open is relayed, in turn with its id's other sockets (shard-opens.ts).
    const socket = crypto.randomUUID().slice(0, 8);
    conn.setState(this.newSockets.begin(socket));
    const seq = await this.newSockets.inTurn(conn.id, () => this.relayOpen(conn, ctx, socket));
    if (seq === undefined) return;
    const closed = await this.opening.wait(conn.id, socket, seq, this.acked);
    if (!closed) return;
    // Closed by the leader before the 101 (shard-opens.ts): this socket goes unseen, and the platform closes the client's 1011.
    conn.setState(IGNORED);
    conn.close(1011, "");
    throw Object.assign(new Error(closed.reason), { stack: closed.reason }); // the stack is ours, not the client's
  }

  /** A new socket's open, relayed: its frame number (undefined: refused, or closed meanwhile). */
  private async relayOpen(conn: Conn, ctx: { request: Request }, socket: string): Promise<number | undefined> {
    // The router names the URL the client asked for; a shard is reached from the router only.
    const clientUri = ctx.request.headers.get(HEADER.uri) ?? conn.uri ?? ctx.request.url;
    const key = new URL(clientUri).searchParams.get(KEY_PARAM);
    const uri = partyUri(clientUri, this.host.party, this.leaderRoom);
    this.departures.sweep(Date.now());
    let [current, record] = await this.sockets.holder(conn, this.storage, (id) => this.departures.mayHold(id));
    const old = current && record && record.left === undefined && sameClient(record.key, key) ? tagOf(current) : undefined;
    if (old !== undefined) {
      // Its client is back while the old socket's close, sent first, is on its way (shard-opens.ts).
      await this.newSockets.wait(old);
      [current, record] = await this.sockets.holder(conn, this.storage, (id) => this.departures.mayHold(id));
    }
    if (this.newSockets.abandoned(socket)) return void conn.setState(IGNORED); // left unopened, having sent nothing: never relayed, it replaces nobody (leader-replace.ts)
    // A record storage holds (a departed client's, or one before records rode in sockets' states) is this socket's to replace.
    const stored = record !== undefined && (!current || !recordOf(current));
    const now = Date.now();
    // taken: the highest write number of the client's earlier socket (the new one's go on from it);
    // owner: the keyed client that left this id lately, which may take it back from this socket.
    let [taken, owner]: [number | undefined, Departed | undefined] = [undefined, undefined];
    if (record?.left !== undefined) {
      // Nobody holds the id (its socket closed, maybe while this waited): anyone may take it, as
      // unsharded. Its client comes back with its write numbers; anyone else holds it only
      // until that client comes back within its grace.
      if (sameClient(record.key, key)) taken = record.seq;
      else if (record.key !== null && record.left + ID_GRACE_MS > now) owner = { id: conn.id, key: record.key, seq: record.seq ?? 0, until: record.left + ID_GRACE_MS };
    } else if (current && record) {
      // One socket per id here. The same client again (same key) replaces its old socket, as a
      // reconnect does, and so does the id's owner coming back to whoever took it meanwhile
      // (that one leaves no claim: `displaced`). Anyone else is refused: an id is public, its key is not.
      const back = record.owner !== undefined && record.owner.until > now && sameClient(record.owner.key, key);
      if (!sameClient(record.key, key) && !back) return void this.refuse(conn, socket);
      const keptNow = this.sockets.kept(current, this.storage); // before IGNORED replaces its state
      current.setState(IGNORED);
      if (back) current.close(1008, "Connection id in use");
      else current.close(1000, "Reconnected");
      const closing = this.closed({ t: "close", id: conn.id, ...(back ? { code: 1008, reason: "Connection id in use", displaced: true as const } : { code: 1000, reason: "Reconnected" }) });
      const kept = await keptNow.kept;
      this.closing.snapshot(closing, record, kept);
      taken = back ? record.owner!.seq : kept?.seq;
      if (keptNow.stored) await this.storage.delete(`kept:${conn.id}`);
    }
    // The socket's record rides in its state (no storage operation), unless too big for it.
    const mine: StoredClient = { id: conn.id, socket, uri, key, ...(owner ? { owner } : {}) };
    const inState = opened(conn, mine);
    if (!inState) this.departures.wrote(conn.id);
    if (!inState) await this.storage.put(`client:${conn.id}`, mine);
    const [headers, cf] = [clientHeaders(ctx.request.headers), ctx.request.headers.get(HEADER.cf)];
    if (!inState) conn.setState({ partyShardSocket: socket, partyShardKey: key });
    const seq = this.emit({ t: "open", id: conn.id, socket, uri, key, headers, ...(cf ? { cf } : {}), ...(taken ? { taken } : {}) });
    if (inState && stored) void this.departures.drop(conn.id); // issued before anything its close stores
    this.openSeq.set(conn.id, seq);
    const held = this.newSockets.take(socket);
    held.messages.forEach((message) => this.emit({ t: "message", id: conn.id, data: encode(message) }));
    this.load.changed(conn.id);
    if (!held.close) return seq;
    await this.onClose(conn, held.close.code, held.close.reason); // its open first, as the platform told them
    return undefined;
  }

  onMessage(conn: Conn, message: Message) {
    const waiting = waitingOf(conn);
    if (waiting !== undefined && !this.newSockets.hold(waiting, message)) return conn.close(1013, "Try Again Later");
    if (isIgnored(conn)) return;
    this.emit({ t: "message", id: conn.id, data: encode(message) });
  }

  /** `code` and `reason` as the platform tells them (PartyKit puts them on the connection). */
  async onClose(conn: Conn, code?: number, reason?: string) {
    this.idle.left();
    const waiting = waitingOf(conn);
    if (waiting !== undefined) return this.newSockets.holdClose(waiting, code, reason);
    // Ignored, or replaced (its client reconnected meanwhile, and the new open told the leader).
    if (isIgnored(conn) || this.sockets.client(conn.id, conn)) return this.load.changed(conn.id);
    this.opening.release(0, conn.id, tagOf(conn));
    const closed = conn as Conn & { closeCode?: number; closeReason?: string };
    // Relayed at once: a reconnect's open, made meanwhile, must come after it.
    const closing = this.closed({ t: "close", id: conn.id, code: code ?? closed.closeCode ?? 1005, reason: reason ?? closed.closeReason ?? "" });
    const keptNow = this.sockets.kept(conn, this.storage);
    const [record, kept] = await Promise.all([this.sockets.record(conn, this.storage), keptNow.kept]);
    this.closing.snapshot(closing, record, kept);
    if (this.openSeq.get(conn.id) === closing.open) this.openSeq.delete(conn.id); // not a later socket's
    await this.departures.depart(conn.id, record, kept, keptNow.stored);
    this.load.changed(conn.id);
    this.newSockets.closed(tagOf(conn));
  }

  /** Relays a client's close; the client is kept as it was (snapshot) until the leader has taken it. */
  private closed(close: Unnumbered<Extract<RelayFrame, { t: "close" }>>) {
    return this.closing.add(close.id, this.emit(close), this.openSeq.get(close.id) ?? 0);
  }

  /** A socket that may not have its id (another key holds it): closed, and nothing it does counts (`socket`: nor what was held for it). */
  private refuse(conn: Conn, socket?: string) {
    if (socket !== undefined) this.newSockets.take(socket);
    conn.setState(IGNORED);
    conn.close(1008, "Connection id in use");
    this.load.changed(conn.id);
  }

  onError(conn: Conn, error: Error) {
    if (!isIgnored(conn)) this.emit({ t: "error", id: conn.id, error: String(error?.message ?? error) });
  }

  /** From this router's rooms only (the edge refuses shard room ids); from the edge, a writer's check or write (shard-writes.ts). */
  async onRequest(req: Request): Promise<Response> {
    const writer = decodeId(req.headers.get(HEADER.connection));
    if (writer !== undefined) return this.writes.answer(req, () => this.sockets.holds(writer, req.headers.get(HEADER.key), this.storage));
    if (req.headers.get(HEADER.link) !== "wake") return Response.json(this.load.now());
    // Woken by a starting leader: with clients (frames not taken, ids still departed clients') it links again, and says it will.
    const linking = this.sockets.count() > 0 || this.unacked.length > 0 || this.departures.within;
    if (linking) this.ensureLink();
    return Response.json({ ...this.load.now(), linking });
  }

  /** A frame goes at once (a message MERGE_MS later) when the leader acknowledged all sent; else with every frame made meanwhile, in one link message after that ack (one leader invocation for many events). */
  private emit(frame: Unnumbered<RelayFrame>): number {
    const numbered = { ...frame, seq: ++this.seq } as RelayFrame;
    this.idle.active();
    const bytes = frameBytes(numbered);
    this.unacked.push({ frame: numbered, bytes });
    this.unackedBytes += bytes;
    if (this.unackedBytes - bytes > UNACKED_MAX_BYTES) {
      this.startAfresh();
      return numbered.seq;
    }
    // A link that is closing is as good as gone; its close event may come many seconds later.
    if (this.link && this.link.readyState !== 1) this.link = undefined;
    if (!this.link) this.ensureLink();
    else if (this.sent <= this.acked && (frame.t === "message" || frame.t === "write")) this.flush ??= setTimeout(() => this.flushWaiting(), MERGE_MS);
    else if (this.sent <= this.acked) this.sendWaiting(this.link);
    return numbered.seq;
  }

  private flushWaiting() {
    this.flush = undefined;
    if (this.link?.readyState === 1 && this.sent <= this.acked) this.sendWaiting(this.link);
  }

  /** Every frame not sent on this link yet, in as few link messages as BATCH_MAX_BYTES allows. */
  private sendWaiting(link: LinkSocket, retry = false) {
    const waiting = this.unacked.filter(({ frame }) => frame.seq > this.sent);
    if (waiting.length === 0) return;
    const frames = retry ? waiting.map(({ frame, bytes }) => ({ frame: { ...frame, retry: true as const }, bytes })) : waiting;
    for (const wire of packBatches(frames, BATCH_MAX_BYTES, this.inbox.sayWithFrames())) link.send(wire);
    this.sent = waiting.at(-1)!.frame.seq;
  }

  // The leader acknowledged nothing for UNACKED_MAX_BYTES of frames. Dropping one would lose an open (a client the party never
  // meets) or a close (a ghost in getConnections()): every client here is closed to reconnect, and the shard starts a new
  // incarnation, whose hello tells the leader that none of them is here any more (their onClose runs there).
  private startAfresh() {
    console.error(`party-shard: the leader acknowledged nothing for ${UNACKED_MAX_BYTES} bytes of frames; this shard's clients are closed (1013) to reconnect`);
    const ids: string[] = [];
    for (const conn of this.host.connections()) {
      if (isIgnored(conn)) continue;
      ids.push(conn.id);
      conn.setState(IGNORED);
      conn.close(1013, "Try Again Later");
    }
    void this.storage.delete(recordKeys(ids));
    this.incarnation = crypto.randomUUID();
    this.seq = 0;
    this.acked = 0;
    this.sent = 0;
    this.unacked.length = 0;
    this.unackedBytes = 0;
    this.openSeq.clear();
    this.opening.reset();
    this.closing.clear();
    this.inbox.reset();
    this.writes.unanswerable();
    this.link?.close(1000, "starting afresh");
    this.link = undefined;
    this.ensureLink();
  }

  private ensureLink() {
    if (this.link || this.linking) return;
    this.linking = true;
    this.openLink().then(
      () => void ((this.linking = false), (this.relinkAttempt = 0)),
      (error: unknown) => {
        this.linking = false;
        console.error("party-shard: shard could not link to its leader", error);
        this.relinkLater();
      },
    );
  }

  private async openLink() {
    const id = `${LINK_ID_PREFIX}${this.shard}-${crypto.randomUUID()}`;
    const socket = await this.host.openLink(this.leaderRoom, `/?_pk=${id}`, { [HEADER.link]: String(this.shard) });
    // Binary frames (link-frames.ts) as ArrayBuffers: workerd's WebSocket gives Blobs by default.
    if ("binaryType" in socket) socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => leaderFrames(unpack(event.data)).forEach((frame) => this.onLeaderFrame(socket, frame)));
    socket.addEventListener("close", () => this.onLinkClosed(socket));
    socket.addEventListener("error", () => this.onLinkClosed(socket));
    await this.hello(socket);
    this.link = socket;
    this.idle.active();
  }

  /** Who is here as far as the leader has acknowledged, then everything it has not. */
  private async hello(socket: LinkSocket) {
    const [stored, kept] = await Promise.all([this.departures.list(), this.storage.list<Kept>({ prefix: "kept:" })]);
    this.sockets.addStates(stored, kept);
    const { clients, left, gone } = helloRecords(stored, kept, Date.now(), { present: (id) => this.sockets.present(id), known: (id) => (this.openSeq.get(id) ?? 0) <= this.acked, seq: (id) => seqOf(this.sockets.client(id)) });
    if (gone.length > 0) await this.storage.delete(recordKeys(gone));
    this.closing.addTo(clients, this.acked);
    socket.send(JSON.stringify({ t: "hello", room: this.leaderRoom, incarnation: this.incarnation, n: ++this.hellos, acked: this.acked, clients, left, ...this.inbox.state(), batches: true } satisfies ShardFrame));
    this.sent = this.acked;
    this.sendWaiting(socket, true);
  }

  private onLeaderFrame(socket: LinkSocket, frame: LeaderFrame) {
    // What comes on a link this shard has left is sent again on its current one.
    if (frame.t !== "ack" && frame.t !== "resync" && (socket !== this.link || (frame.t !== "welcome" && !this.inbox.take(frame.n, frame.t === "mark")))) return;
    this.idle.active();
    switch (frame.t) {
      case "welcome":
        return void (this.inbox.meet(frame.leader, frame.hibernates, frame.writes) && this.writes.unanswerable(this.acked));
      case "wrote":
        return this.writes.wrote(frame.seq, frame.status, frame.body);
      case "ack":
        this.acked = Math.max(this.acked, frame.seq);
        while (this.unacked[0] && this.unacked[0].frame.seq <= this.acked) this.unackedBytes -= this.unacked.shift()!.bytes;
        this.closing.taken(this.acked);
        this.opening.acked(this.acked, frame.waiting);
        if (socket === this.link && this.sent <= this.acked) this.sendWaiting(socket);
        this.idleLink(socket);
        return;
      case "resync":
        // Only on the current link: a hello on one this shard left would make it the leader's again.
        return void (socket === this.link && this.hello(socket));
      case "send":
        return this.sockets.addressed(frame.to, frame.at)?.send(decode(frame.data));
      case "broadcast":
        return this.sockets.broadcast(frame);
      case "broadcasts":
        return frame.items.forEach((item) => ("to" in item ? this.sockets.sendEach(item) : this.sockets.broadcast(item)));
      case "close": {
        // Its onConnect still waits: that ends with this close, which it carries out (shard-opens.ts). A refusal ends the wait alone.
        const closed = frame.refused ? undefined : { code: frame.code ?? 1011, reason: frame.reason ?? "" };
        if (this.opening.release(0, frame.to, frame.at, closed) && closed) return;
        if (frame.refused) return this.refusedByLeader(frame.to, frame.at);
        try {
          return this.sockets.addressed(frame.to, frame.at)?.close(frame.code, frame.reason);
        } catch {
          // A code or reason a WebSocket refuses (the party's conn.close(4, "…") on a shard client): it still closes.
          return this.sockets.addressed(frame.to, frame.at)?.close(1011, "");
        }
      }
      case "keep":
      case "taken": {
        // A closing client's stays with it, for a hello until its close is taken.
        this.closing.keep(frame.to, frame.at, (kept) => (frame.t === "keep" ? frame.kept : { ...kept, seq: frame.seq }));
        if (frame.t === "taken") return this.sockets.taken(frame.to, frame.at, frame.seq, this.storage); // in the socket's state: no storage operation
        // In the socket's state, or storage; not for a socket that is gone (nor the next of its id).
        return void this.sockets.keep(frame.to, frame.at, frame.kept, this.storage);
      }
    }
  }

  /** Nobody here, nothing owed, the leader's welcome taken (what it sends again follows it): the link closes (departed clients do not hold it: on wrangler dev a shard that never idles delivers its sockets' closes late). */
  private idleLink(link: LinkSocket) {
    if (this.unacked.length > 0 || this.writes.onLink || !this.inbox.welcomed || !this.idle.nobodyHere()) return;
    this.closeLink(link, "no clients");
  }

  /** The leader hears what this shard got, and the link closes (idle, or nobody here). */
  private closeLink(link: LinkSocket, reason: string) {
    this.inbox.say(link);
    if (this.link === link) this.link = undefined;
    link.close(1000, reason);
  }

  /** The leader refused a client its id (another key holds it): it goes, as if it never came. */
  private refusedByLeader(id: string, at: string | undefined) {
    const conn = this.sockets.addressed(id, at);
    if (!conn) return;
    this.refuse(conn);
    this.openSeq.delete(id);
    void this.departures.drop(id);
  }

  private onLinkClosed(socket: LinkSocket) {
    if (this.link !== socket) return;
    this.link = undefined;
    if (this.unacked.length > 0 || this.writes.onLink || this.sockets.count() > 0) this.relinkLater();
  }

  private relinkLater() {
    setTimeout(() => this.ensureLink(), Math.random() * Math.min(RELINK_MAX_MS, RELINK_BASE_MS * 2 ** this.relinkAttempt++));
  }
}

export { ShardRelay };

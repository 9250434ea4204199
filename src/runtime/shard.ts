/**
 * A shard: a room of the router's party holding client sockets. It runs no party code; it relays
 * each socket's open, messages, close and errors to the leader over one WebSocket (its link), and
 * carries out what the leader sends back.
 *
 * Invariants:
 * - every relayed frame is numbered and kept until the leader acknowledges it, and sent again on
 *   the next link: the leader gets each once, in order (UNACKED_MAX_BYTES bounds what is kept);
 * - a client gets a broadcast only if the leader had taken its open when it broadcast (`upTo`);
 * - one socket per id: the same client (same key) replaces its old socket, anyone else is
 *   refused; a free id is anyone's, but for ID_GRACE_MS after a keyed client left, that client
 *   takes it back from whoever took it meanwhile (the record stays, marked `left`, or as the new
 *   holder's `owner`, and the hello names it, so a woken leader hears of it);
 * - the client records in storage outlive the shard's memory, so a woken shard says who is here.
 */
import type { Conn, LinkSocket, ShardHost } from "./host.js";
import { frameBytes, pack, unpack } from "./link-frames.js";
import { LoadReporter } from "./shard-load.js";
import { HEADER, HEADER_PREFIX, ID_GRACE_MS, KEY_PARAM, LINK_ID_PREFIX, decode, decodeId, encode, headerPairs, partyUri, sameClient } from "./protocol.js";
import type { ClientRecord, Data, Departed, Kept, LeaderFrame, Message, RelayFrame, SendItem, ShardFrame, Unnumbered } from "./protocol.js";

/** Bytes of relayed frames a shard keeps until the leader acknowledges them, and the newest frame on top. */
const UNACKED_MAX_BYTES = 8_388_608;
/** A shard reopening its link: backoff between attempts. */
const RELINK_BASE_MS = 50;
const RELINK_MAX_MS = 5_000;

/** A socket this shard refused or replaced: it is closing, and nothing it does counts. */
const IGNORED = { partyShardIgnored: true };
/** WebSocket.OPEN: a connection that can still send and receive. */
const WEBSOCKET_OPEN = 1;
const isIgnored = (conn: Conn) => (conn.state as typeof IGNORED | null)?.partyShardIgnored === true;
/** A socket's tag (its state here, kept through hibernation): which socket of its id the leader's frames are for. */
const tagOf = (conn: Conn) => (conn.state as { partyShardSocket?: string } | null)?.partyShardSocket;

/**
 * A client's record in storage (`client:<id>`). `left`: when its socket closed, and `seq` the
 * write number it reached then. `owner`: the keyed client that left this id within its grace
 * before this one took it, and may take it back.
 */
type StoredClient = Omit<ClientRecord, "kept"> & { left?: number; seq?: number; owner?: Departed };

const HOP_HEADERS = new Set(["upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "host"]);

class ShardRelay {
  /** Changes whenever this shard starts afresh, so the leader knows its numbering restarted. */
  private incarnation = crypto.randomUUID();
  private seq = 0;
  private acked = 0;
  private readonly unacked: RelayFrame[] = [];
  private unackedBytes = 0;
  /** The frame number of each client's open; before it the leader did not know the client. */
  private readonly openSeq = new Map<string, number>();
  private link: LinkSocket | undefined;
  private linking = false;
  private relinkAttempt = 0;
  /** Departed clients' records, oldest first, until their grace ends (sweepDeparted). */
  private readonly departures: { id: string; leftAt: number; until: number }[] = [];
  private readonly load: LoadReporter;

  constructor(
    private readonly host: ShardHost,
    private readonly leaderRoom: string,
    private readonly shard: number,
  ) {
    this.load = new LoadReporter(host, leaderRoom, shard, () => this.clientCount(), () => this.incarnation);
  }

  async onConnect(conn: Conn, ctx: { request: Request }) {
    // The router names the URL the client asked for; a shard is reached from the router only.
    const clientUri = ctx.request.headers.get(HEADER.uri) ?? conn.uri ?? ctx.request.url;
    const key = new URL(clientUri).searchParams.get(KEY_PARAM);
    const uri = partyUri(clientUri, this.host.party, this.leaderRoom);
    const current = this.client(conn.id, conn);
    const now = Date.now();
    this.sweepDeparted(now);
    const record = await this.host.storage.get<StoredClient>(`client:${conn.id}`);
    /** The highest write number taken from this client's earlier socket: the new one's writes go on from it. */
    let taken: number | undefined;
    /** The keyed client that left this id lately: it may take it back from this socket. */
    let owner: Departed | undefined;
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
      if (!sameClient(record.key, key) && !back) return this.refuse(conn);
      current.setState(IGNORED);
      if (back) {
        current.close(1008, "Connection id in use");
        this.emit({ t: "close", id: conn.id, code: 1008, reason: "Connection id in use", displaced: true });
        taken = record.owner!.seq;
      } else {
        current.close(1000, "Reconnected");
        this.emit({ t: "close", id: conn.id, code: 1000, reason: "Reconnected" });
        taken = (await this.host.storage.get<Kept>(`kept:${conn.id}`))?.seq;
      }
      await this.host.storage.delete(`kept:${conn.id}`);
    }
    const socket = crypto.randomUUID().slice(0, 8);
    conn.setState({ partyShardSocket: socket });
    const mine: StoredClient = { id: conn.id, socket, uri, key, ...(owner ? { owner } : {}) };
    await this.host.storage.put(`client:${conn.id}`, mine);
    const [headers, cf] = [headerPairs(ctx.request.headers).filter(([name]) => !name.startsWith(HEADER_PREFIX) && !HOP_HEADERS.has(name)), ctx.request.headers.get(HEADER.cf)];
    this.openSeq.set(conn.id, this.emit({ t: "open", id: conn.id, socket, uri, key, headers, ...(cf ? { cf } : {}), ...(taken ? { taken } : {}) }));
    this.reportLoad(conn.id);
  }

  onMessage(conn: Conn, message: Message) {
    if (isIgnored(conn)) return;
    this.emit({ t: "message", id: conn.id, data: encode(message) });
  }

  /** `code` and `reason` as the platform tells them (PartyKit puts them on the connection). */
  async onClose(conn: Conn, code?: number, reason?: string) {
    // Ignored, or replaced: its client reconnected (same id) while this socket was closing, and
    // the new socket's open already told the leader. Its close and its records are the new one's.
    if (isIgnored(conn) || this.client(conn.id, conn)) return this.reportLoad(conn.id);
    const closed = conn as Conn & { closeCode?: number; closeReason?: string };
    this.emit({ t: "close", id: conn.id, code: code ?? closed.closeCode ?? 1005, reason: reason ?? closed.closeReason ?? "" });
    this.openSeq.delete(conn.id);
    await this.depart(conn.id);
    this.reportLoad(conn.id);
  }

  /** A socket that may not have its id (another key holds it): closed, and nothing it does counts. */
  private refuse(conn: Conn) {
    conn.setState(IGNORED);
    conn.close(1008, "Connection id in use");
    this.reportLoad(conn.id);
  }

  /**
   * A client's socket closed: a keyed client's record stays, marked `left`, with the write
   * number it reached, so it can take its id back for ID_GRACE_MS (as many storage writes as
   * deleting it would take). A socket that took the id from an owner still within its grace
   * leaves the owner's record instead: the owner keeps its place. A keyless one is forgotten.
   */
  private async depart(id: string) {
    const record = await this.host.storage.get<StoredClient>(`client:${id}`);
    const now = Date.now();
    const owner = record?.owner !== undefined && record.owner.until > now ? record.owner : undefined;
    if (!record || (record.key === null && !owner)) return void (await this.host.storage.delete(recordKeys([id])));
    const seq = (await this.host.storage.get<Kept>(`kept:${id}`))?.seq ?? 0;
    const until = owner ? owner.until : now + ID_GRACE_MS;
    const left: StoredClient = { id, uri: record.uri, key: owner ? owner.key : record.key, left: until - ID_GRACE_MS, seq: owner ? owner.seq : seq };
    await this.host.storage.put(`client:${id}`, left);
    await this.host.storage.delete(`kept:${id}`);
    this.departures.push({ id, leftAt: left.left!, until });
  }

  /**
   * Departed records past their grace go as later clients come and go (a shard that stays linked
   * sends no hello to sweep them); no timer, which would keep the shard from idling (idleLink).
   */
  private sweepDeparted(now: number) {
    while (this.departures[0] && this.departures[0].until <= now) {
      const { id, leftAt } = this.departures.shift()!;
      // Unless the id was taken meanwhile (its record is someone's now).
      void this.host.storage.get<StoredClient>(`client:${id}`).then(async (record) => {
        if (record?.left === leftAt) await this.host.storage.delete(recordKeys([id]));
      });
    }
  }

  onError(conn: Conn, error: Error) {
    if (!isIgnored(conn)) this.emit({ t: "error", id: conn.id, error: String(error?.message ?? error) });
  }

  /**
   * The live socket of a client id on this shard, other than `except`. Only an open one: a
   * socket its client just closed can still be listed, and a reconnect's welcome sent to it
   * would be lost.
   */
  private client(id: string, except?: Conn): Conn | undefined {
    for (const conn of this.host.connections(id)) if (conn !== except && !isIgnored(conn) && conn.readyState === WEBSOCKET_OPEN) return conn;
    return undefined;
  }

  /** Whether a socket of this client id is here, in any state (a closing one still sends its close). */
  private present(id: string): boolean {
    for (const conn of this.host.connections(id)) if (conn.id === id && !isIgnored(conn)) return true;
    return false;
  }

  /** From this router's rooms only (the edge refuses shard room ids); from the edge, a writer's check: 204 here under that key, else 404. */
  async onRequest(req: Request): Promise<Response> {
    const writer = decodeId(req.headers.get(HEADER.connection));
    if (writer !== undefined) return new Response(null, { status: (await this.holds(writer, req.headers.get(HEADER.key))) ? 204 : 404 });
    if (req.headers.get(HEADER.link) === "wake") this.ensureLink();
    return Response.json(this.load.now());
  }

  private async holds(id: string, key: string | null): Promise<boolean> {
    const record = this.present(id) ? await this.host.storage.get<StoredClient>(`client:${id}`) : undefined;
    return record !== undefined && record.left === undefined && sameClient(record.key, key);
  }

  private emit(frame: Unnumbered<RelayFrame>): number {
    const numbered = { ...frame, seq: ++this.seq } as RelayFrame;
    this.unacked.push(numbered);
    const bytes = frameBytes(numbered);
    this.unackedBytes += bytes;
    if (this.unackedBytes - bytes > UNACKED_MAX_BYTES) {
      this.startAfresh();
      return numbered.seq;
    }
    // A link that is closing is as good as gone; its close event may come many seconds later.
    if (this.link && this.link.readyState !== 1) this.link = undefined;
    if (this.link) this.link.send(pack(numbered));
    else this.ensureLink();
    return numbered.seq;
  }

  /**
   * The leader acknowledged nothing for UNACKED_MAX_BYTES of frames. Dropping one would lose an
   * open (a client the party never meets) or a close (a ghost in getConnections()): instead every
   * client here is closed to reconnect, and the shard starts a new incarnation, whose hello tells
   * the leader that none of them is here any more (their onClose runs there).
   */
  private startAfresh() {
    console.error(`party-shard: the leader acknowledged nothing for ${UNACKED_MAX_BYTES} bytes of frames; this shard's clients are closed (1013) to reconnect`);
    const ids: string[] = [];
    for (const conn of this.host.connections()) {
      if (isIgnored(conn)) continue;
      ids.push(conn.id);
      conn.setState(IGNORED);
      conn.close(1013, "Try Again Later");
    }
    void this.host.storage.delete(recordKeys(ids));
    this.incarnation = crypto.randomUUID();
    this.seq = 0;
    this.acked = 0;
    this.unacked.length = 0;
    this.unackedBytes = 0;
    this.openSeq.clear();
    this.link?.close(1000, "starting afresh");
    this.link = undefined;
    this.ensureLink();
  }

  private ensureLink() {
    if (this.link || this.linking) return;
    this.linking = true;
    this.openLink().then(
      () => {
        this.linking = false;
        this.relinkAttempt = 0;
      },
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
    socket.addEventListener("message", (event) => this.onLeaderFrame(socket, unpack<LeaderFrame>(event.data)));
    socket.addEventListener("close", () => this.onLinkClosed(socket));
    socket.addEventListener("error", () => this.onLinkClosed(socket));
    await this.hello(socket);
    this.link = socket;
  }

  /** Who is here as far as the leader has acknowledged, then everything it has not. */
  private async hello(socket: LinkSocket) {
    const stored = await this.host.storage.list<StoredClient>({ prefix: "client:" });
    const kept = await this.host.storage.list<Kept>({ prefix: "kept:" });
    const now = Date.now();
    const records = [...stored.values()].filter((record) => record.left === undefined);
    const left: Departed[] = [];
    for (const record of stored.values()) {
      if (record.left !== undefined && record.key !== null) left.push({ id: record.id, key: record.key, seq: record.seq ?? 0, until: record.left + ID_GRACE_MS });
      else if (record.owner !== undefined) left.push(record.owner);
    }
    // A record whose socket is gone (the server restarted: hibernated sockets do not survive
    // that) is no client any more: forgotten, never announced; so is a departure past its grace.
    const gone = [...records.filter((record) => !this.present(record.id)).map((record) => record.id), ...left.filter((entry) => entry.until <= now).map((entry) => entry.id)];
    if (gone.length > 0) await this.host.storage.delete(recordKeys(gone));
    const clients = records
      .filter((record) => this.present(record.id) && (this.openSeq.get(record.id) ?? 0) <= this.acked)
      .map(({ id, socket, uri, key }) => ({ id, ...(socket ? { socket } : {}), uri, key, kept: kept.get(`kept:${id}`) ?? { state: null, attachment: null, tags: [] } }));
    socket.send(JSON.stringify({ t: "hello", room: this.leaderRoom, incarnation: this.incarnation, acked: this.acked, clients, left: left.filter((entry) => entry.until > now) } satisfies ShardFrame));
    for (const frame of this.unacked) socket.send(pack({ ...frame, retry: true }));
  }

  private onLeaderFrame(socket: LinkSocket, frame: LeaderFrame) {
    switch (frame.t) {
      case "ack":
        this.acked = Math.max(this.acked, frame.seq);
        while (this.unacked[0] && this.unacked[0].seq <= this.acked) this.unackedBytes -= frameBytes(this.unacked.shift()!);
        this.idleLink(socket);
        return;
      case "resync":
        return void this.hello(socket);
      case "send":
        return this.addressed(frame.to, frame.at)?.send(decode(frame.data));
      case "broadcast":
        return this.broadcast(frame);
      case "broadcasts":
        return frame.items.forEach((item) => ("to" in item ? this.sendEach(item) : this.broadcast(item)));
      case "close":
        if (frame.refused) return this.refusedByLeader(frame.to, frame.at);
        try {
          return this.addressed(frame.to, frame.at)?.close(frame.code, frame.reason);
        } catch {
          // A code or reason a WebSocket refuses (the party's conn.close(4, "…") on a shard client): it still closes.
          return this.addressed(frame.to, frame.at)?.close(1011, "");
        }
      case "keep":
        // What the leader keeps of a socket that is gone is not the next socket's of its id.
        if (frame.at !== undefined && !this.addressed(frame.to, frame.at)) return;
        return void this.host.storage.put(`kept:${frame.to}`, frame.kept);
    }
  }

  /**
   * The live socket a leader's frame is for: the id's socket here and, when the frame names one
   * (`at`), that very socket: what was meant for a socket that closed never reaches the next.
   */
  private addressed(id: string, at: string | undefined): Conn | undefined {
    if (at === undefined) return this.client(id);
    // Among every socket of the id: one that closed may still be listed as open for a moment.
    for (const conn of this.host.connections(id)) if (tagOf(conn) === at && !isIgnored(conn) && conn.readyState === WEBSOCKET_OPEN) return conn;
    return undefined;
  }

  /**
   * Nobody here, nothing owed: the leader (and this shard) may go idle. Departed clients do not
   * hold the link: on wrangler dev a shard that never idles delivers its sockets' closes late.
   */
  private idleLink(link: LinkSocket) {
    if (this.unacked.length > 0 || this.clientCount() > 0) return;
    if (this.link === link) this.link = undefined;
    link.close(1000, "no clients");
  }

  /** The leader refused a client its id (another key holds it): it goes, as if it never came. */
  private refusedByLeader(id: string, at: string | undefined) {
    const conn = this.addressed(id, at);
    if (!conn) return;
    this.refuse(conn);
    this.openSeq.delete(id);
    void this.host.storage.delete(recordKeys([id]));
  }

  /** One message the leader sent to several sockets here, one by one. */
  private sendEach({ data, to, at }: SendItem) {
    const message = decode(data);
    to.forEach((id, i) => this.addressed(id, at[i] ?? undefined)?.send(message));
  }

  private broadcast({ data, without, upTo }: { data: Data; without: string[]; upTo: number }) {
    const message = decode(data);
    for (const conn of this.host.connections()) {
      if ((this.openSeq.get(conn.id) ?? 0) <= upTo && !without.includes(conn.id) && !isIgnored(conn)) conn.send(message);
    }
  }

  private onLinkClosed(socket: LinkSocket) {
    if (this.link !== socket) return;
    this.link = undefined;
    if (this.unacked.length > 0 || this.clientCount() > 0) this.relinkLater();
  }

  private relinkLater() {
    setTimeout(() => this.ensureLink(), Math.random() * Math.min(RELINK_MAX_MS, RELINK_BASE_MS * 2 ** this.relinkAttempt++));
  }

  private clientCount(): number {
    return [...this.host.connections()].filter((conn) => !isIgnored(conn)).length;
  }

  /** Tells the router's room how many clients this shard holds (shard-load.ts: coalesced). */
  private reportLoad(id: string) {
    this.load.changed(id);
  }
}

/** The storage keys of clients' records: who each is (`client:`), and what the leader kept of it (`kept:`). */
function recordKeys(ids: readonly string[]): string[] {
  return ids.flatMap((id) => [`client:${id}`, `kept:${id}`]);
}

export { ShardRelay };


/** How long a routed write is remembered by its idempotency key, and the bytes that memory may take. */
const WRITE_MEMORY_MS = 60_000;
const WRITE_MEMORY_BYTES = 4_194_304;
/** Bytes of frames kept for a shard whose link is down, and of frames a shard keeps unacknowledged. */
const OUTBOX_MAX_BYTES = 8_388_608;
const UNACKED_MAX_BYTES = 8_388_608;
/** How long a woken leader waits for its shards to tell it who is connected. */
const RESYNC_TIMEOUT_MS = 5_000;
/** A shard reopening its link: backoff between attempts. */
const RELINK_BASE_MS = 50;
const RELINK_MAX_MS = 5_000;
/**
 * While the leader hands a batch of writes to the party, or messages relayed by shards are
 * arriving, the party's broadcasts to a shard wait to go as one frame: at most this long, and
 * this many UTF-8 bytes, well below LINK_MAX_BYTES. Any other frame to that shard sends them
 * first, so a shard sees every frame in order.
 */
const COALESCE_MAX_MS = 50;
const COALESCE_MAX_BYTES = 262_144;
/**
 * The WebSocket message limit of a shard's link on Cloudflare: a bigger frame closes the link
 * (1009), and frames from the leader are not resent, so the shard's clients would miss it.
 */
const LINK_MAX_BYTES = 1_048_576;
/** How long the highest write number taken from a connection is kept after its last write, and how many. */
const SEQ_MEMORY_MS = 300_000;
const SEQ_MEMORY_ENTRIES = 100_000;

const HEADER = {
  /** On a shard's link socket: the shard's number, and (PartyServer) the ticket the leader gave it. */
  link: "x-party-shard-link",
  ticket: "x-party-shard-ticket",
  /** On a routed write: the writer's connection id and key. */
  connection: "x-party-shard-connection",
  key: "x-party-shard-key",
  /** From the router: the client's own URL (to a shard), or that a request was forwarded (to the leader). */
  uri: "x-party-shard-uri",
  forwarded: "x-party-shard-forwarded",
  attempt: "x-party-shard-attempt",
  /** On a routed write: its number among its socket's writes (1, 2, …), so an older one never runs after a newer. */
  seq: "x-party-shard-seq",
  /** On a write's answer: this router and room take batches. */
  batch: "x-party-shard-batch",
  /** Between the router's rooms: placement and load. */
  place: "x-party-shard-place",
  load: "x-party-shard-load",
  stats: "x-party-shard-stats",
  idempotencyKey: "idempotency-key",
} as const;
/** Every header of ours starts so; public requests never carry them past the edge. */
const HEADER_PREFIX = "x-party-shard-";
/** The query parameter carrying a socket's write key. */
const KEY_PARAM = "_psk";
/** The content type of a request carrying several writes of one connection, in order. */
const BATCH_TYPE = "application/vnd.party-shard.batch+json";
const LINK_ID_PREFIX = "party-shard-link-";
const SHARD_ROOM = /^(.+)!shard-(\d+)$/;

function shardRoomId(room: string, shard: number): string {
  return `${room}!shard-${shard}`;
}

/** `{ room, shard }` for a shard room's id; undefined for any other room. */
function parseShardRoom(id: string): { room: string; shard: number } | undefined {
  const match = SHARD_ROOM.exec(id);
  return match ? { room: match[1]!, shard: Number(match[2]) } : undefined;
}

/** Drops our headers from a request that came from the internet, where anyone can set them. */
function stripInternalHeaders(req: { headers: { keys(): Iterable<string>; delete(name: string): void } }): void {
  for (const name of [...req.headers.keys()]) if (name.startsWith(HEADER_PREFIX)) req.headers.delete(name);
}

/** The request as the party would have got it directly: a copy without our headers (the request itself when it has none). */
function asDirect<R extends Request>(req: R): R {
  if (![...req.headers.keys()].some((name) => name.startsWith(HEADER_PREFIX))) return req;
  const copy = new Request(req);
  stripInternalHeaders(copy);
  return copy as R;
}

// ─── Batches of writes ──────────────────────────────────────────────────────────────────────

/** One write of a batch, as the client helper sends it: its idempotency key, its number (`s`), and text or base64. */
type BatchEntry = ({ k: string; t: string } | { k: string; b: string }) & { s?: number };
/** What became of each write of a batch, in order; a write after the first one left open is missing. */
interface BatchResult {
  status: number;
  error?: string;
}
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Idempotency keys are printable ASCII: what a header could carry. */
const PRINTABLE = /^[\x21-\x7e]+$/;
/** A write's number: a positive safe integer, as a header carries it. */
const SEQ_PATTERN = /^[1-9][0-9]{0,15}$/;

/** A write's number from its header; undefined when absent (an older helper), null when malformed. */
function parseSeq(header: string | null): number | undefined | null {
  if (header === null) return undefined;
  return SEQ_PATTERN.test(header) && Number.isSafeInteger(Number(header)) ? Number(header) : null;
}

/** The entries of a batch body, or why it is refused. Checked entry by entry: the body came from the internet. */
function parseBatch(text: string, maxWrites: number, maxKeyLength: number): BatchEntry[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return "A batch is a JSON array";
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return "A batch is a non-empty JSON array";
  if (parsed.length > maxWrites) return `A batch holds at most ${maxWrites} writes`;
  const entries: BatchEntry[] = [];
  for (const [i, entry] of parsed.entries()) {
    const { k, t, b, s, ...rest } = (entry ?? {}) as Record<string, unknown>;
    const valid =
      typeof entry === "object" && !Array.isArray(entry) && Object.keys(rest).length === 0 && typeof k === "string" && k.length > 0 && k.length <= maxKeyLength && PRINTABLE.test(k) &&
      (s === undefined || (typeof s === "number" && Number.isSafeInteger(s) && s > 0)) &&
      (typeof t === "string" ? b === undefined : typeof b === "string" && b.length % 4 === 0 && BASE64.test(b));
    if (!valid) return `Write ${i} of the batch is not { k, t } or { k, b } (with an optional number s) with a key of at most ${maxKeyLength} printable ASCII characters`;
    const seq = typeof s === "number" ? { s } : {};
    entries.push(typeof t === "string" ? { k: k as string, t, ...seq } : { k: k as string, b: b as string, ...seq });
  }
  return entries;
}

// ─── The link protocol ──────────────────────────────────────────────────────────────────────

type Data = { text: string } | { base64: string };
interface Kept {
  state: unknown;
  attachment: unknown;
  tags: string[];
  /** The highest write number taken from this connection: kept with it so a woken leader still refuses older writes. */
  seq?: number;
}
interface ClientRecord {
  id: string;
  uri: string;
  key: string | null;
  kept: Kept;
}
/** Shard → leader. Every frame but hello has a sequence number; `retry` marks a resent frame. */
type ShardFrame =
  | { t: "hello"; incarnation: string; acked: number; clients: ClientRecord[] }
  | { t: "open"; seq: number; id: string; uri: string; headers: [string, string][]; retry?: true }
  | { t: "message"; seq: number; id: string; data: Data; retry?: true }
  | { t: "close"; seq: number; id: string; code: number; reason: string; retry?: true }
  | { t: "error"; seq: number; id: string; error: string; retry?: true };
/** Leader → shard. `upTo`: only clients whose open the leader had seen get a broadcast. */
type LeaderFrame =
  | { t: "ack"; seq: number }
  | { t: "resync" }
  | { t: "send"; to: string; data: Data }
  | { t: "broadcast"; data: Data; without: string[]; upTo: number }
  | { t: "broadcasts"; items: { data: Data; without: string[]; upTo: number }[] }
  | { t: "close"; to: string; code?: number | undefined; reason?: string | undefined }
  | { t: "keep"; to: string; kept: Kept };

type Message = string | ArrayBuffer | ArrayBufferView;
/** A frame before the shard numbers it. */
type Unnumbered<F> = F extends unknown ? Omit<F, "seq"> : never;
type RelayFrame = Exclude<ShardFrame, { t: "hello" }>;

// ─── What the runtime needs of its platform (PartyKit or PartyServer) ───────────────────────

/** A client's socket, as both platforms give it to a room. */
interface Conn {
  readonly id: string;
  readonly uri: string | null;
  readonly readyState: number;
  readonly state: unknown;
  setState(state: unknown): unknown;
  send(message: Message): void;
  close(code?: number, reason?: string): void;
}
/** The shard's end of its link: a Workers WebSocket (whatever the project's lib). The leader's end is a LinkEnd. */
interface LinkSocket {
  readonly readyState: number;
  send(message: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  addEventListener(type: "close" | "error", listener: () => void): void;
}
/** The leader's end of a link, with the id the shard gave it. */
interface LinkEnd {
  readonly id: string;
  readonly readyState: number;
  send(message: string): void;
  close(code?: number, reason?: string): void;
}
/** A request to another room: `path` below the room (with its query), "" for the room itself. */
type RoomFetch = (path: string, init: { method: string; headers?: HeadersInit; body?: ArrayBuffer | string }) => Promise<Response>;
/** What a room's storage offers on both platforms (a Durable Object's storage). */
interface RoomStorage {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  delete(keys: string | string[]): Promise<unknown>;
  list<T>(options: { prefix: string }): Promise<Map<string, T>>;
}
/** The party's handlers, one calling order for both platforms: the connection first. */
interface PartyCalls {
  tags?(conn: Conn, ctx: { request: Request }): unknown;
  connect?(conn: Conn, ctx: { request: Request }): unknown;
  message?(conn: Conn, message: string | ArrayBuffer): unknown;
  close?(conn: Conn, code: number, reason: string, wasClean: boolean): unknown;
  error?(conn: Conn, error: Error): unknown;
}
/** The leader's room, as its platform gives it. */
interface LeaderHost {
  readonly id: string;
  readonly env: Record<string, unknown>;
  readonly hibernates: boolean;
  /** The room's own client sockets, never links. */
  directConnections(tag?: string): Iterable<Conn>;
  directConnection(id: string): Conn | undefined;
  /** The links shards opened to this room. */
  links(): Iterable<LinkEnd>;
  link(id: string): LinkEnd | undefined;
  /** A room of the router's party (a shard, to wake it). */
  routerRoom(room: string): RoomFetch;
  /** Resolves once the room has started (the party's onStart ran), where the platform does not ensure it first. */
  ready?(): Promise<void>;
}
/** A shard's room, as its platform gives it. */
interface ShardHost {
  readonly storage: RoomStorage;
  connections(tag?: string): Iterable<Conn>;
  /** Opens a WebSocket to the leader's room at `path` (its query carries the link's id). */
  openLink(leaderRoom: string, path: string, headers: Record<string, string>): Promise<LinkSocket>;
  routerRoom(room: string): RoomFetch;
}

function encode(message: Message): Data {
  if (typeof message === "string") return { text: message };
  const bytes = message instanceof ArrayBuffer ? new Uint8Array(message) : new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { base64: btoa(binary) };
}

function decode(data: Data): string | ArrayBuffer {
  if ("text" in data) return data.text;
  return Uint8Array.from(atob(data.base64), (c) => c.charCodeAt(0)).buffer;
}

/** With PARTY_SHARD_FAULT_PERCENT set (tests, staging), that share of first attempts fails. */
function injectedFault(env: Record<string, unknown>, retry: boolean | undefined, where: string): "before" | "after" | undefined {
  // Brackets: a project with noPropertyAccessFromIndexSignature type-checks this file too.
  const percent = Number(env["PARTY_SHARD_FAULT_PERCENT"] ?? 0);
  if (retry || !(Math.random() * 100 < percent)) return undefined;
  const when = Math.random() < 0.5 ? "before" : "after";
  // warn, not log: wrangler dev at --log-level info drops console.log, and the tests count these.
  console.warn(`party-shard: injected fault ${when} ${where}`);
  return when;
}

// ─── The leader: the party's own room ───────────────────────────────────────────────────────

interface ShardState {
  incarnation: string;
  /** The last frame from this shard taken in; anything at or below it is a repeat. */
  processed: number;
  linkId: string | undefined;
  /** Frames (as sent) waiting for the link to come back, and their size. */
  outbox: string[];
  outboxBytes: number;
}

/** Broadcasts held to go as one frame to a shard (see COALESCE_MAX_MS). */
interface Held {
  items: Extract<LeaderFrame, { t: "broadcast" }>[];
  bytes: number;
}

class LeaderCore {
  private readonly remotes = new Map<string, RemoteConnection>();
  private readonly shards = new Map<number, ShardState>();
  private readonly writes = new RecentWrites();
  private readonly waitingHello = new Map<number, () => void>();
  private started: Promise<void> = Promise.resolve();
  /** Hellos taken from each shard: which of its frames came after which hello. */
  private readonly hellos = new Map<number, number>();
  /** Shards asked for a hello, by the hellos taken from them then: asked once until one comes. */
  private readonly askedHello = new Map<number, number>();
  /** Shards whose frames were dropped while the room failed to start, by the hellos taken from them then. */
  private readonly gaps = new Map<number, number>();
  /** Frames from shards, taken one after another. */
  private frames: Promise<void> = Promise.resolve();
  private readonly stats = { broadcasts: 0, shardFrames: 0, largestShardFrameBytes: 0 };
  /** Highest write number taken per connection id and key; outlives the connection for a reconnect. */
  private readonly sequences = new Sequences();
  /** Batches of writes being handed to the party now; while any is, broadcasts to each shard are held. */
  private batches = 0;
  /** Relayed messages arrived this timer turn: their broadcasts are held until it ends. */
  private holding = false;
  private readonly held = new Map<number, Held>();
  private holdTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly host: LeaderHost,
    private readonly party: PartyCalls,
  ) {}

  /**
   * Runs before the party's own onStart. Woken from hibernation (or evicted while shards kept
   * their links), the leader has its links but not its clients: each shard tells it.
   */
  start(): Promise<void> {
    this.started = this.resync([...this.host.links()]);
    return this.started;
  }

  private async resync(links: LinkEnd[]): Promise<void> {
    const hellos = links.map((link) => {
      const heard = new Promise<void>((resolve) => this.waitingHello.set(linkShard(link.id), resolve));
      link.send(JSON.stringify({ t: "resync" } satisfies LeaderFrame));
      return heard;
    });
    await Promise.race([Promise.all(hellos), new Promise((resolve) => setTimeout(resolve, RESYNC_TIMEOUT_MS))]);
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
    if (state && state.outbox.length > 0) this.wakeShard(linkShard(link.id));
  }

  /**
   * The requests the runtime answers itself: its stats and routed writes. A forwarded request
   * may meet an injected fault. Undefined: the request is the party's.
   */
  async request(req: Request): Promise<Response | undefined> {
    if (req.headers.has(HEADER.stats)) return Response.json(this.stats);
    if (req.headers.has(HEADER.connection)) return req.headers.get("content-type") === BATCH_TYPE ? this.writeBatch(req) : this.write(req);
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
      this.hellos.set(shard, (this.hellos.get(shard) ?? 0) + 1);
      return Promise.resolve(this.onHello(shard, link, frame));
    }
    const since = this.hellos.get(shard) ?? 0;
    // The rest in the order they came, once the room has started and heard its shards: the
    // first frame after a wake may have to start it, and none may overtake it meanwhile.
    const turn = this.frames.then(async () => {
      try {
        await this.host.ready?.();
      } catch (error) {
        // The room did not start (its onStart threw). This frame and the shard's later ones
        // until its next hello are dropped; the shard keeps them unacknowledged. Nothing asks
        // it again here: a room that keeps failing must not turn its shards' frames into a loop.
        this.gaps.set(shard, since);
        // As PartyServer closes a direct socket whose room fails to start (its client reconnects
        // and tries again); what the room threw is for the server log, not the client.
        if (frame.t === "open") this.toShard(shard, { t: "close", to: frame.id, code: 1011, reason: "Uncaught exception during session setup" });
        throw error;
      }
      if (this.gaps.has(shard)) {
        // Started now: that shard's hello is followed by everything not acknowledged, in order.
        if (this.gaps.get(shard) === since) return this.askHello(shard, link, since);
        this.gaps.delete(shard);
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
    const fault = injectedFault(this.host.env, frame.retry, `a ${frame.t} frame`);
    if (fault === "before") return this.dropLink(state, link);
    state.processed = frame.seq;
    this.apply(shard, frame);
    if (fault === "after") return this.dropLink(state, link);
    link.send(JSON.stringify({ t: "ack", seq: frame.seq } satisfies LeaderFrame));
  }

  /** Asks a shard for a hello, once for all the frames that came after its hello number `since`. */
  private askHello(shard: number, link: LinkEnd, since: number) {
    if (this.askedHello.get(shard) === since) return;
    this.askedHello.set(shard, since);
    link.send(JSON.stringify({ t: "resync" } satisfies LeaderFrame));
  }

  /** An injected fault: the link breaks; what the party sends meanwhile waits for the next one. */
  private dropLink(state: ShardState, link: LinkEnd) {
    state.linkId = undefined;
    link.close(1011, "injected fault");
  }

  private onHello(shard: number, link: LinkEnd, hello: Extract<ShardFrame, { t: "hello" }>) {
    let state = this.shards.get(shard);
    if (state?.incarnation !== hello.incarnation) {
      // A shard (or this leader) we have not met: its clients are as it says, up to what was acked.
      const listed = new Set(hello.clients.map((client) => client.id));
      for (const remote of this.remotes.values()) {
        if (remote.shard === shard && !listed.has(remote.id)) this.gone(remote, 1006, "shard restarted");
      }
      for (const client of hello.clients) {
        if (this.remotes.get(client.id)?.shard !== shard) this.addRemote(shard, client.id, client.uri, client.key, client.kept);
      }
      state = { incarnation: hello.incarnation, processed: hello.acked, linkId: undefined, outbox: state?.outbox ?? [], outboxBytes: state?.outboxBytes ?? 0 };
      this.shards.set(shard, state);
    }
    state.linkId = link.id;
    // What this leader took that the shard does not know of (the ack was lost with a link).
    if (state.processed > hello.acked) link.send(JSON.stringify({ t: "ack", seq: state.processed } satisfies LeaderFrame));
    for (const frame of state.outbox.splice(0)) link.send(frame);
    state.outboxBytes = 0;
    this.waitingHello.get(shard)?.();
    this.waitingHello.delete(shard);
  }

  private apply(shard: number, frame: RelayFrame) {
    if (frame.t === "open") {
      const key = new URL(frame.uri).searchParams.get(KEY_PARAM);
      const existing = this.remotes.get(frame.id);
      if (existing && !sameClient(existing.key, key)) {
        // An id is public; only the client holding its key may take it over.
        this.toShard(shard, { t: "close", to: frame.id, code: 1008, reason: "Connection id in use" });
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
      const seq = existing?.seqTaken;
      const remote = this.addRemote(shard, frame.id, frame.uri, key, { state: null, attachment: null, tags: [], ...(seq ? { seq } : {}) });
      remote.run(() => this.onRemoteConnect(remote, frame.headers), true);
      return;
    }
    const remote = this.remotes.get(frame.id);
    if (remote?.shard !== shard) return;
    if (frame.t === "message") {
      const message = decode(frame.data);
      this.holdAWhile();
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

  private deliver(remote: RemoteConnection, message: string | ArrayBuffer) {
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

  private addRemote(shard: number, id: string, clientUri: string, key: string | null, kept: Kept): RemoteConnection {
    const remote = new RemoteConnection(id, partyUri(clientUri, this.host.id), this.host.id, shard, key, kept, this.host.hibernates, (frame) => this.toShard(shard, frame));
    this.remotes.set(id, remote);
    return remote;
  }

  // ─── Writes POSTed through the router ───

  private async write(req: Request): Promise<Response> {
    const type = req.headers.get("content-type") ?? "";
    const body = await req.arrayBuffer();
    const idempotencyKey = req.headers.get(HEADER.idempotencyKey) ?? crypto.randomUUID();
    const retry = req.headers.get(HEADER.attempt) !== "1";
    const seq = parseSeq(req.headers.get(HEADER.seq));
    if (seq === null) return new Response(`${HEADER.seq} is a positive integer`, { status: 400 });
    const outcome = await this.takeWrite(req.headers.get(HEADER.connection), req.headers.get(HEADER.key), type, body, idempotencyKey, seq, retry, "a routed write");
    outcome.remote?.mirrorSeq();
    await outcome.done;
    // The header says this room takes batches: a helper sends one only after seeing it.
    return new Response(outcome.error ?? "ok", { status: outcome.status, headers: { [HEADER.batch]: "1" } });
  }

  /**
   * Several writes of one connection, in order: each checked and run exactly as it would be
   * alone. The first write that may succeed later (425, 503) ends the batch, so nothing runs
   * ahead of it; the router sends the rest again. Broadcasts go one frame per shard while the
   * writes are being handed to the party (each onMessage has started), not until they finish:
   * a slow onMessage must not hold every broadcast of the room.
   */
  private async writeBatch(req: Request): Promise<Response> {
    // The router's limits (it checked them already).
    const entries = parseBatch(await req.text(), MAX_BATCH_WRITES, MAX_ID_LENGTH);
    if (typeof entries === "string") return new Response(entries, { status: 400 });
    const connection = req.headers.get(HEADER.connection);
    const key = req.headers.get(HEADER.key);
    const retry = req.headers.get(HEADER.attempt) !== "1";
    const results: BatchResult[] = [];
    const runs: Promise<void>[] = [];
    const started: Promise<void>[] = [];
    let remote: RemoteConnection | undefined;
    this.batches++;
    try {
      for (const entry of entries) {
        // The type and bytes the same write would carry alone: its digest is the same either way.
        const [type, body] = "t" in entry ? ["text/plain;charset=UTF-8", new TextEncoder().encode(entry.t).slice().buffer] : ["application/octet-stream", decode({ base64: entry.b }) as ArrayBuffer];
        const outcome = await this.takeWrite(connection, key, type, body, entry.k, entry.s, retry, "a batched write");
        results.push(outcome.error === undefined ? { status: outcome.status } : { status: outcome.status, error: outcome.error });
        remote ??= outcome.remote;
        if (outcome.done) runs.push(outcome.done);
        if (outcome.started) started.push(outcome.started);
        if (outcome.status === 425 || outcome.status === 503) break;
      }
      remote?.mirrorSeq();
      // Bounded: an earlier handler of this connection that never settles delays no broadcast long.
      await Promise.race([Promise.all(started), sleep(COALESCE_MAX_MS)]);
    } finally {
      if (--this.batches === 0 && !this.holding) this.releaseHeld();
    }
    await Promise.all(runs);
    return Response.json({ results }, { headers: { [HEADER.batch]: "1" } });
  }

  /**
   * One write: the connection must be known here and the key its own; then onMessage runs once
   * per idempotency key. `done` settles when the party has taken it, `started` once its
   * onMessage has been called. A numbered write not remembered by its key runs only when its
   * number is above every number taken from the connection: an older write (one its client gave
   * up on, still retried by the router) never runs after a newer one, nor a write twice once the
   * key memory has moved on. Writes without a number (older helpers) run as before.
   */
  private async takeWrite(connection: string | null, key: string | null, type: string, body: ArrayBuffer, idempotencyKey: string, seq: number | undefined, retry: boolean, what: string): Promise<{ status: number; error?: string; done?: Promise<void>; started?: Promise<void>; remote?: RemoteConnection }> {
    const id = decodeId(connection);
    // A woken leader knows its shards' clients once they answered (resync).
    await this.started;
    const remote = id === undefined ? undefined : this.remotes.get(id);
    // 425: the socket's open may still be on its way from its shard; the sender retries.
    if (!remote) return { status: 425, error: "This room does not know that connection (yet)" };
    if (!sameKey(remote.key, key)) return { status: 403, error: "Wrong key for this connection" };
    const fault = injectedFault(this.host.env, retry, what);
    if (fault === "before") return { status: 503, error: "injected fault" };
    const digest = await digestOf(type, body);
    const memoryKey = `${remote.id}\n${idempotencyKey}`;
    let done = this.writes.find(memoryKey, digest);
    if (done === "reused") return { status: 409, error: "This Idempotency-Key was used for another write" };
    let started: Promise<void> | undefined;
    if (!done) {
      if (seq !== undefined) {
        const seqKey = `${remote.id}\n${remote.key ?? ""}`;
        const highest = Math.max(this.sequences.get(seqKey), remote.seqTaken);
        if (seq <= highest) return { status: 410, error: `Write ${seq} was overtaken by write ${highest} of this connection, or already taken`, remote };
        this.sequences.set(seqKey, seq);
        remote.seqTaken = seq;
      }
      const message = type.startsWith("application/octet-stream") ? body : new TextDecoder().decode(body);
      let called!: () => void;
      started = new Promise<void>((resolve) => (called = resolve));
      // A throw in onMessage is only logged, as on a direct socket: the write was delivered.
      done = this.writes.add(
        memoryKey,
        digest,
        remote.run(() => {
          try {
            return this.deliver(remote, message);
          } finally {
            called();
          }
        }, false),
      );
    }
    const taken = { done, remote, ...(started ? { started } : {}) };
    return fault === "after" ? { status: 503, error: "injected fault", ...taken } : { status: 200, ...taken };
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
    const excluded = new Set(without);
    for (const conn of this.host.directConnections()) if (!excluded.has(conn.id)) conn.send(message);
    const perShard = new Map<number, { clients: number; skipped: string[] }>();
    for (const remote of this.remotes.values()) {
      const entry = perShard.get(remote.shard) ?? { clients: 0, skipped: [] };
      entry.clients++;
      if (excluded.has(remote.id)) entry.skipped.push(remote.id);
      perShard.set(remote.shard, entry);
    }
    this.stats.broadcasts++;
    let data: Data | undefined;
    let dataBytes = 0;
    for (const [shard, { clients, skipped }] of perShard) {
      if (clients === skipped.length) continue;
      // Encoded and measured once per broadcast, whatever the number of shards.
      if (data === undefined) {
        data = encode(message);
        dataBytes = utf8Length(JSON.stringify(data));
      }
      // The item's other fields: ids at most 3 bytes a UTF-16 unit, and the upTo number.
      const bytes = dataBytes + 3 * JSON.stringify(skipped).length + 64;
      this.toShard(shard, { t: "broadcast", data, without: skipped, upTo: this.shards.get(shard)?.processed ?? 0 }, bytes);
    }
  }

  private toShard(shard: number, frame: LeaderFrame, bytes = 0) {
    const state = this.shards.get(shard);
    if (!state) return;
    if (frame.t === "broadcast" && (this.batches > 0 || this.holding)) return this.hold(shard, frame, bytes);
    // A connection's kept data only goes to the shard's storage and no client sees it: held
    // broadcasts need not go before it (a write's number is kept once per request).
    if (frame.t === "keep") return this.sendToShard(shard, state, frame);
    // Held broadcasts go first: a shard sees the party's frames in the order it sent them.
    this.releaseHeld(shard);
    this.sendToShard(shard, state, frame);
  }

  private sendToShard(shard: number, state: ShardState, frame: LeaderFrame) {
    if (frame.t === "broadcast" || frame.t === "broadcasts") this.stats.shardFrames++;
    const link = state.linkId ? this.host.link(state.linkId) : undefined;
    const text = JSON.stringify(frame);
    // A UTF-16 unit is at most 3 UTF-8 bytes: only a long frame is measured.
    const bytes = text.length * 3 > LINK_MAX_BYTES ? utf8Length(text) : text.length;
    if (frame.t === "broadcast" || frame.t === "broadcasts") this.stats.largestShardFrameBytes = Math.max(this.stats.largestShardFrameBytes, utf8Length(text));
    if (bytes > LINK_MAX_BYTES) {
      // Held broadcasts never make such a frame; one message can (a binary one goes base64, 4/3 its size).
      console.error(`party-shard: a ${frame.t} frame to shard ${shard} is ${bytes} bytes, over the ${LINK_MAX_BYTES}-byte WebSocket message limit of its link: on Cloudflare the link closes (1009) and that shard's clients miss this message. Keep messages to sharded clients under about ${Math.floor(LINK_MAX_BYTES / 2)} bytes of text or ${Math.floor((LINK_MAX_BYTES * 3) / 4 / 2)} bytes of binary.`);
    }
    // A link closing but not yet closed: its close event clears linkId, and the frame waits.
    if (link && link.readyState === 1) return link.send(text);
    state.outbox.push(text);
    state.outboxBytes += text.length;
    while (state.outboxBytes > OUTBOX_MAX_BYTES) {
      state.outboxBytes -= state.outbox.shift()!.length;
      console.error(`party-shard: shard ${shard} unreachable; its oldest waiting frame was dropped`);
    }
    if (state.outbox.length === 1) this.wakeShard(shard);
  }

  /**
   * Relayed messages come one event each: their broadcasts wait until the events already
   * queued have run (one timer turn, about a millisecond), then go as one frame per shard.
   */
  private holdAWhile() {
    if (this.holding) return;
    this.holding = true;
    setTimeout(() => {
      this.holding = false;
      if (this.batches === 0) this.releaseHeld();
    }, 0);
  }

  /** `bytes`: the item's UTF-8 size in a frame (or more). What is held goes before it would cross the cap. */
  private hold(shard: number, frame: Extract<LeaderFrame, { t: "broadcast" }>, bytes: number) {
    const waiting = this.held.get(shard);
    if (waiting && waiting.bytes + bytes > COALESCE_MAX_BYTES) this.releaseHeld(shard);
    if (bytes > COALESCE_MAX_BYTES) {
      // Too big to share a frame: it goes alone, as it would unheld.
      const state = this.shards.get(shard);
      if (state) this.sendToShard(shard, state, frame);
      return;
    }
    const held = this.held.get(shard) ?? { items: [], bytes: 32 };
    held.items.push(frame);
    held.bytes += bytes;
    this.held.set(shard, held);
    this.holdTimer ??= setTimeout(() => this.releaseHeld(), COALESCE_MAX_MS);
  }

  /** Sends the broadcasts held for `shard` (or every shard) as one frame each. */
  private releaseHeld(only?: number) {
    for (const [shard, { items }] of this.held) {
      if (only !== undefined && shard !== only) continue;
      this.held.delete(shard);
      const frame: LeaderFrame = items.length === 1 ? items[0]! : { t: "broadcasts", items: items.map(({ data, without, upTo }) => ({ data, without, upTo })) };
      const state = this.shards.get(shard);
      if (state) this.sendToShard(shard, state, frame);
    }
    if (this.held.size === 0 && this.holdTimer !== undefined) {
      clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
    }
  }

  /** A shard whose link is down may be asleep: a request wakes it, and it links again. */
  private wakeShard(shard: number) {
    try {
      const shardRoom = this.host.routerRoom(shardRoomId(this.host.id, shard));
      shardRoom("", { method: "POST", headers: { [HEADER.link]: "wake" } }).catch((error: unknown) => console.error("party-shard: could not wake shard", shard, error));
    } catch (error) {
      // In onAlarm PartyKit hides the room id; the shard links again on its own next event.
      console.error("party-shard: could not wake shard", shard, error);
    }
  }
}

/**
 * A client on a shard, as the party sees it: a Connection whose state and attachment live here
 * (and are mirrored to the shard, so a woken leader gets them back), and whose send and close
 * travel over the shard's link.
 */
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
  private tail: Promise<unknown> = Promise.resolve();
  private seqMirrored = 0;

  constructor(
    readonly id: string,
    readonly uri: string,
    /** The room's name (PartyServer's `connection.server`). */
    readonly server: string,
    readonly shard: number,
    readonly key: string | null,
    private readonly kept: Kept,
    /** Both platforms keep a hibernating connection's state in its attachment. */
    private readonly stateIsAttachment: boolean,
    private readonly out: (frame: LeaderFrame) => void,
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
    this.out({ t: "send", to: this.id, data: encode(message) });
  }
  close(code?: number, reason?: string) {
    if (this.readyState < 2) this.readyState = 2;
    this.out({ t: "close", to: this.id, code, reason });
  }
  accept() {}

  /**
   * Runs this connection's handlers in the order its events came. `wait`: later events wait for
   * this one to finish (onConnect, as PartyKit answers a socket only after it); otherwise they
   * start in order and may interleave at awaits, as on a direct socket.
   */
  run(handler: () => unknown, wait: boolean): Promise<void> {
    // A throw is only logged, as both platforms do for a direct socket's handlers.
    const done = this.tail.then(handler).then(
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
    this.mirror();
  }

  private mirror() {
    this.out({ t: "keep", to: this.id, kept: this.kept });
  }
}

function isLink(id: string): boolean {
  return id.startsWith(LINK_ID_PREFIX);
}

function linkShard(id: string): number {
  return Number.parseInt(id.slice(LINK_ID_PREFIX.length), 10);
}

/** The URL the client would have used without the router: /parties/<party>/<room>, no key. */
function partyUri(clientUri: string, room: string): string {
  const url = new URL(clientUri);
  url.pathname = url.pathname.replace(/^\/parties\/[^/]+\/[^/]+/, `/parties/${SHARDED_PARTY}/${room}`);
  url.searchParams.delete(KEY_PARAM);
  return url.toString();
}

/** Writes run lately, by idempotency key, with a digest of what they carried; bounded in bytes. */
class RecentWrites {
  private readonly entries = new Map<string, { expires: number; digest: string; bytes: number; done: Promise<void> }>();
  private bytes = 0;

  /** The earlier run of this key, "reused" when it carried something else, or undefined. */
  find(key: string, digest: string): Promise<void> | "reused" | undefined {
    this.forget();
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    return entry.digest === digest ? entry.done : "reused";
  }

  add(key: string, digest: string, done: Promise<void>): Promise<void> {
    const bytes = 2 * (key.length + digest.length) + 100;
    this.entries.set(key, { expires: Date.now() + WRITE_MEMORY_MS, digest, bytes, done });
    this.bytes += bytes;
    this.forget();
    return done;
  }

  private forget() {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.expires > now && this.bytes <= WRITE_MEMORY_BYTES) break;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
    }
  }
}

/** Highest write number taken per connection id and key, for SEQ_MEMORY_MS after its last write; bounded in entries. */
class Sequences {
  private readonly entries = new Map<string, { seq: number; expires: number }>();

  get(key: string): number {
    this.forget();
    return this.entries.get(key)?.seq ?? 0;
  }

  set(key: string, seq: number) {
    // Re-inserted, so the map stays oldest first.
    this.entries.delete(key);
    this.entries.set(key, { seq, expires: Date.now() + SEQ_MEMORY_MS });
    this.forget();
  }

  private forget() {
    const now = Date.now();
    for (const [key, entry] of this.entries) {
      if (entry.expires > now && this.entries.size <= SEQ_MEMORY_ENTRIES) break;
      this.entries.delete(key);
    }
  }
}

/** A close reason a WebSocket takes: at most 123 UTF-8 bytes. */
function closeReason(text: string): string {
  let reason = text;
  while (utf8Length(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

/** UTF-8 bytes of a string, without encoding it. */
function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) bytes += code < 0x800 ? 1 : 2;
    // A surrogate pair is four bytes: its two units and the 2 just added; its second unit adds nothing.
    if (code >= 0xd800 && code < 0xdc00 && i + 1 < text.length) i++;
  }
  return bytes;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function digestOf(type: string, body: ArrayBuffer): Promise<string> {
  const prefix = new TextEncoder().encode(`${type}\n`);
  const typed = new Uint8Array(prefix.byteLength + body.byteLength);
  typed.set(prefix);
  typed.set(new Uint8Array(body), prefix.byteLength);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", typed));
  return Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Ids travel percent-encoded, so any id fits in a header. */
function decodeId(header: string | null): string | undefined {
  try {
    return header === null ? undefined : decodeURIComponent(header);
  } catch {
    return undefined;
  }
}

/** Two sockets are the same client when they hold the same key, or when neither has one. */
function sameClient(a: string | null, b: string | null): boolean {
  return a === null && b === null ? true : sameKey(a, b);
}

function sameKey(expected: string | null, given: string | null): boolean {
  if (!expected || !given || expected.length !== given.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0;
}

// ─── A shard: holds client sockets, relays them to the leader ───────────────────────────────

/** What a shard tells the router's room after each connect and close. */
interface LoadReport {
  shard: number;
  count: number;
  /** The client that came or went. */
  id: string;
  /** The shard's incarnation and the report's number in it, to drop reports that arrive late. */
  from: string;
  n: number;
}

/** A socket this shard refused or replaced: it is closing, and nothing it does counts. */
const IGNORED = { partyShardIgnored: true };
/** WebSocket.OPEN: a connection that can still send and receive. */
const WEBSOCKET_OPEN = 1;
const isIgnored = (conn: Conn) => (conn.state as typeof IGNORED | null)?.partyShardIgnored === true;

const HOP_HEADERS = new Set(["upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "host"]);

class ShardRelay {
  /** Changes whenever this shard starts afresh, so the leader knows its numbering restarted. */
  private readonly incarnation = crypto.randomUUID();
  private seq = 0;
  private acked = 0;
  private readonly unacked: RelayFrame[] = [];
  private unackedBytes = 0;
  /** The frame number of each client's open; before it the leader did not know the client. */
  private readonly openSeq = new Map<string, number>();
  private link: LinkSocket | undefined;
  private linking = false;
  private relinkAttempt = 0;
  private reports = 0;

  constructor(
    private readonly host: ShardHost,
    private readonly leaderRoom: string,
    private readonly shard: number,
  ) {}

  async onConnect(conn: Conn, ctx: { request: Request }) {
    // The router names the URL the client asked for; a shard is reached from the router only.
    const uri = ctx.request.headers.get(HEADER.uri) ?? conn.uri ?? ctx.request.url;
    const key = new URL(uri).searchParams.get(KEY_PARAM);
    const current = this.client(conn.id, conn);
    // No record: the old socket closed while this waited (its onClose forgets it), so the id is
    // free again, as it is unsharded once its socket is gone: a plain connect, never a refusal.
    const record = current && (await this.host.storage.get<Omit<ClientRecord, "kept">>(`client:${conn.id}`));
    if (current && record) {
      // One socket per id here. The same client again (same key) replaces its old socket, as a
      // reconnect does; anyone else is refused: an id is public, its key is not.
      const replaced = sameClient(record.key, key) ? current : conn;
      replaced.setState(IGNORED);
      replaced.close(replaced === conn ? 1008 : 1000, replaced === conn ? "Connection id in use" : "Reconnected");
      if (replaced === conn) return this.reportLoad(conn.id);
      this.emit({ t: "close", id: conn.id, code: 1000, reason: "Reconnected" });
      await this.host.storage.delete(`kept:${conn.id}`);
    }
    const mine: Omit<ClientRecord, "kept"> = { id: conn.id, uri, key };
    await this.host.storage.put(`client:${conn.id}`, mine);
    const headers = [...ctx.request.headers].filter(([name]) => !name.startsWith(HEADER_PREFIX) && !HOP_HEADERS.has(name));
    this.openSeq.set(conn.id, this.emit({ t: "open", id: conn.id, uri, headers }));
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
    await this.host.storage.delete([`client:${conn.id}`, `kept:${conn.id}`]);
    this.reportLoad(conn.id);
  }

  onError(conn: Conn, error: Error) {
    if (isIgnored(conn)) return;
    this.emit({ t: "error", id: conn.id, error: String(error?.message ?? error) });
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

  /** From this router's rooms only: the edge refuses shard room ids. */
  onRequest(req: Request): Response {
    if (req.headers.get(HEADER.link) === "wake") this.ensureLink();
    return Response.json({ connections: this.clientCount() });
  }

  private emit(frame: Unnumbered<RelayFrame>): number {
    const numbered = { ...frame, seq: ++this.seq } as RelayFrame;
    this.unacked.push(numbered);
    this.unackedBytes += JSON.stringify(numbered).length;
    while (this.unackedBytes > UNACKED_MAX_BYTES) {
      // The leader has not acknowledged anything for a long while: keep memory bounded.
      this.unackedBytes -= JSON.stringify(this.unacked.shift()).length;
      console.error("party-shard: leader unreachable; the oldest unacknowledged frame was dropped");
    }
    // A link that is closing is as good as gone; its close event may come many seconds later.
    if (this.link && this.link.readyState !== 1) this.link = undefined;
    if (this.link) this.link.send(JSON.stringify(numbered));
    else this.ensureLink();
    return numbered.seq;
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
    socket.addEventListener("message", (event) => this.onLeaderFrame(socket, JSON.parse(String(event.data)) as LeaderFrame));
    socket.addEventListener("close", () => this.onLinkClosed(socket));
    socket.addEventListener("error", () => this.onLinkClosed(socket));
    await this.hello(socket);
    this.link = socket;
  }

  /** Who is here as far as the leader has acknowledged, then everything it has not. */
  private async hello(socket: LinkSocket) {
    const records = await this.host.storage.list<Omit<ClientRecord, "kept">>({ prefix: "client:" });
    const kept = await this.host.storage.list<Kept>({ prefix: "kept:" });
    // A record whose socket is gone (the server restarted: hibernated sockets do not survive
    // that) is no client any more: forgotten, never announced.
    const gone = [...records.values()].filter((record) => !this.present(record.id));
    if (gone.length > 0) await this.host.storage.delete(gone.flatMap((record) => [`client:${record.id}`, `kept:${record.id}`]));
    const clients = [...records.values()]
      .filter((record) => this.present(record.id) && (this.openSeq.get(record.id) ?? 0) <= this.acked)
      .map((record) => ({ ...record, kept: kept.get(`kept:${record.id}`) ?? { state: null, attachment: null, tags: [] } }));
    socket.send(JSON.stringify({ t: "hello", incarnation: this.incarnation, acked: this.acked, clients } satisfies ShardFrame));
    for (const frame of this.unacked) socket.send(JSON.stringify({ ...frame, retry: true }));
  }

  private onLeaderFrame(socket: LinkSocket, frame: LeaderFrame) {
    switch (frame.t) {
      case "ack":
        this.acked = Math.max(this.acked, frame.seq);
        while (this.unacked[0] && this.unacked[0].seq <= this.acked) this.unackedBytes -= JSON.stringify(this.unacked.shift()).length;
        // Nobody left and nothing owed: let the leader (and this shard) go idle.
        if (this.unacked.length === 0 && this.clientCount() === 0) {
          if (this.link === socket) this.link = undefined;
          socket.close(1000, "no clients");
        }
        return;
      case "resync":
        return void this.hello(socket);
      case "send":
        return this.client(frame.to)?.send(decode(frame.data));
      case "broadcast":
        return this.broadcast(frame);
      case "broadcasts":
        for (const item of frame.items) this.broadcast(item);
        return;
      case "close":
        try {
          return this.client(frame.to)?.close(frame.code, frame.reason);
        } catch {
          // A code or reason a WebSocket refuses (the party's conn.close(4, "…") on a shard client): it still closes.
          return this.client(frame.to)?.close(1011, "");
        }
      case "keep":
        return void this.host.storage.put(`kept:${frame.to}`, frame.kept);
    }
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
    const delay = Math.random() * Math.min(RELINK_MAX_MS, RELINK_BASE_MS * 2 ** this.relinkAttempt++);
    setTimeout(() => this.ensureLink(), delay);
  }

  private clientCount(): number {
    let count = 0;
    for (const conn of this.host.connections()) if (!isIgnored(conn)) count++;
    return count;
  }

  /**
   * Tells the router's room how many clients this shard holds and who came or went, so placement
   * follows real load. Reports are numbered: one overtaken by a later one is ignored.
   */
  private reportLoad(id: string) {
    const report: LoadReport = { shard: this.shard, count: this.clientCount(), id, from: this.incarnation, n: ++this.reports };
    const placement = this.host.routerRoom(this.leaderRoom);
    placement("", { method: "POST", headers: { [HEADER.load]: encodeURIComponent(JSON.stringify(report)) } })
      .catch((error: unknown) => console.error("party-shard: could not report load", error));
  }
}

// ─── The router: placement at its room, writes and requests at the edge ─────────────────────

/** Placement skips a shard holding this many connections. */
const MAX_CONNECTIONS_PER_SHARD = 10_000;
/** How many connections a client's preferred shard may hold above the emptiest one (0 = even). */
const BALANCE_SLACK = 0;
/** Client ids remembered so a reconnecting client returns to its shard. */
const STICKY_MEMORY = 50_000;
/** A placement counts toward its shard's load until the shard reports the client, or this long. */
const PENDING_MS = 10_000;

/** Delivery of a POST to the leader: attempts, time per attempt, and backoff between them. */
const MAX_ATTEMPTS = 4;
const ATTEMPT_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 25;
const BACKOFF_MAX_MS = 1_000;

/** Largest POST body accepted, in bytes actually read. */
const MAX_BODY_BYTES = 1_048_576;
/**
 * A batch of writes (sendViaRouter sends one while its previous request is on its way): writes,
 * and body bytes. The client helper's MAX_BATCH_WRITES and MAX_BATCH_BYTES must be the same (a
 * helper whose batch is refused whole, 400 or 413, sends its writes one by one instead).
 */
const MAX_BATCH_WRITES = 512;
const MAX_BATCH_BYTES = 1_048_576;
/** Longest connection id, write key or Idempotency-Key (printable ASCII) a socket or a write may carry. */
const MAX_ID_LENGTH = 128;
/** Room ids this router accepts. `!` is not among them: shard rooms stay unreachable. */
const ROOM_ID_PATTERN = /^[\w.~:@%+-]{1,128}$/;
/** Origin allowed to POST from a browser. */
const ALLOWED_ORIGIN = "*";

/** 425: the writer's socket is still connecting; 502–504: nothing reached the party. */
const RETRY_STATUSES = [425, 502, 503, 504];

const CORS_HEADERS = {
  "access-control-allow-origin": ALLOWED_ORIGIN,
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": `content-type, ${HEADER.idempotencyKey}, ${HEADER.connection}, ${HEADER.key}, ${HEADER.seq}`,
  // A browser's helper must read it to learn that this router takes batches.
  "access-control-expose-headers": HEADER.batch,
};

/** One room as the router sees it at the edge, on its platform. */
interface Edge {
  readonly room: string;
  /** The sharded party's room of that name: the leader. */
  readonly leader: RoomFetch;
  /** A room of the router's party: the placement room `<room>`, or a shard. */
  routerRoom(room: string): RoomFetch;
  /** Opens the client's WebSocket on a shard room: `search` is the client's query, `headers` its (checked) headers. */
  toShard(shardRoom: string, search: string, headers: Headers): Promise<Response>;
  /** The sharded party's own hook, run as its platform runs it: a Response refuses, a Request replaces. */
  hook(kind: "connect" | "request", req: Request): Promise<Request | Response>;
}

/** A WebSocket to the router: the party's hook, then the less loaded of the client's two shards. */
async function edgeConnect(req: Request, edge: Edge): Promise<Response> {
  if (!ROOM_ID_PATTERN.test(edge.room)) return json(400, { error: "Invalid room id" });
  // PartyKit hands any request with `Upgrade: websocket` here; a handshake is a GET.
  if (req.method !== "GET") return json(400, { error: "A WebSocket handshake is a GET" });
  const asked = new URL(req.url).searchParams;
  if ((asked.get("_pk") ?? "").length > MAX_ID_LENGTH || (asked.get(KEY_PARAM) ?? "").length > MAX_ID_LENGTH) {
    return json(400, { error: `Connection id and key are at most ${MAX_ID_LENGTH} characters` });
  }
  // Link ids are the shards' own, as at the party's edge (same answer).
  if (asked.get("_pk")?.startsWith(LINK_ID_PREFIX)) return new Response("Reserved connection id", { status: 400 });
  stripInternalHeaders(req);
  const allowed = await edge.hook("connect", req);
  if (allowed instanceof Response) return allowed;
  const url = new URL(allowed.url);
  // The shard must see the same client id the placement was made for.
  const clientId = url.searchParams.get("_pk") || crypto.randomUUID();
  url.searchParams.set("_pk", clientId);
  const placement = await edge.routerRoom(edge.room)("", { method: "POST", headers: { [HEADER.place]: clientId } });
  if (!placement.ok) return placement;
  const { shard } = (await placement.json()) as { shard: number };
  const headers = new Headers([...allowed.headers]);
  headers.set(HEADER.uri, url.toString());
  return edge.toShard(shardRoomId(edge.room, shard), url.search, headers);
}

/**
 * Any other request to the router: writes and requests go to the leader; a GET or HEAD is
 * returned, for the placement room to answer with its load view.
 */
async function edgeRequest(req: Request, edge: Edge): Promise<Request | Response> {
  if (!ROOM_ID_PATTERN.test(edge.room)) return json(400, { error: "Invalid room id" });
  const connection = req.headers.get(HEADER.connection);
  const key = req.headers.get(HEADER.key);
  const seq = req.headers.get(HEADER.seq);
  stripInternalHeaders(req);
  switch (req.method) {
    case "POST":
      if (connection === null || key === null) return roomRequest(req, edge);
      // By media type: a client may add parameters (a charset) to it.
      return mediaType(req.headers.get("content-type")) === BATCH_TYPE ? writeBatch(req, edge, connection, key) : write(req, edge, connection, key, seq);
    case "OPTIONS":
      return new Response(null, { status: 204, headers: CORS_HEADERS });
    case "GET":
    case "HEAD":
      // The load view is the room's: the party's onBeforeRequest guards it as it guards a direct GET.
      return edge.hook("request", req);
    default:
      return json(405, { error: "Use GET or POST" }, { allow: "GET, HEAD, POST, OPTIONS" });
  }
}

/** The router's room `<room>`: where each client goes, and how many clients each shard holds. */
class Placement {
  /** Connections per shard; index 0 is shard 1. Each shard reports its own count as it changes. */
  private load: number[];
  /** Clients placed but not yet reported by their shard: a handshake that fails never counts for long. */
  private readonly pending = new Map<string, { shard: number; expires: number }>();
  /** The latest report taken from each shard. */
  private readonly lastReport: ({ from: string; n: number } | undefined)[] = [];
  /** Shard each client id was placed on, oldest first. */
  private readonly placements = new Map<string, number>();
  /** When this room last started: operators can tell an eviction from the view. */
  private readonly since = Date.now();

  constructor(
    private readonly room: string,
    private readonly shardCount: number,
    /** A room of the router's party, and the leader (the sharded party's room of the same name). */
    private readonly routerRoom: (room: string) => RoomFetch,
    private readonly leader: RoomFetch,
  ) {
    this.load = new Array<number>(shardCount).fill(0);
  }

  /** After an eviction the counts are gone from memory: the shards know them. */
  async start() {
    this.load = await Promise.all(
      this.load.map(async (_, i) => {
        const res = await this.routerRoom(shardRoomId(this.room, i + 1))("", { method: "GET" });
        return ((await res.json()) as { connections: number }).connections;
      }),
    );
  }

  async onRequest(req: Request): Promise<Response> {
    const placeFor = req.headers.get(HEADER.place);
    if (placeFor !== null) return this.place(placeFor);
    const reported = req.headers.get(HEADER.load);
    if (reported !== null) {
      this.takeReport(JSON.parse(decodeURIComponent(reported)) as LoadReport);
      return new Response(null, { status: 204 });
    }
    return json(200, { room: this.room, party: SHARDED_PARTY, shards: this.shardCount, load: this.load, since: this.since, leader: await this.leaderStats() });
  }

  /** What the leader sent its shards; null before the party is wrapped by migrate. */
  private async leaderStats(): Promise<unknown> {
    // A leader that throws (on PartyServer, a room whose onStart fails) shows no stats: what it
    // said is for the server log, never the view, which anyone may read.
    const res = await this.leader("", { method: "GET", headers: { [HEADER.stats]: "1" } }).catch((error: unknown) => {
      console.error(`party-shard: room ${this.room} did not answer for its stats`, error);
      return undefined;
    });
    if (!res) return null;
    return res.ok && res.headers.get("content-type")?.includes("json") ? res.json().catch(() => null) : null;
  }

  /** A shard's own count replaces ours, unless a later report from it came first. */
  private takeReport(report: LoadReport) {
    this.pending.delete(report.id);
    const last = this.lastReport[report.shard - 1];
    if (report.shard < 1 || report.shard > this.shardCount || (last?.from === report.from && last.n > report.n)) return;
    this.lastReport[report.shard - 1] = { from: report.from, n: report.n };
    this.load[report.shard - 1] = report.count;
  }

  /** Sticky while the client's shard has room; otherwise the less loaded of the client's two shards. */
  private place(clientId: string): Response {
    const previous = this.placements.get(clientId);
    const shard = previous !== undefined && this.hasRoom(previous) ? previous : this.choose(clientId);
    if (shard === undefined) return json(503, { error: "Every shard is full" }, { "retry-after": "5" });
    // Counted now so a burst of connects spreads out, until the shard reports the client.
    this.pending.set(clientId, { shard, expires: Date.now() + PENDING_MS });
    this.placements.delete(clientId);
    this.placements.set(clientId, shard);
    if (this.placements.size > STICKY_MEMORY) this.placements.delete(this.placements.keys().next().value!);
    return json(200, { shard });
  }

  private choose(clientId: string): number | undefined {
    const load = this.effectiveLoad();
    const open = rendezvousOrder(clientId, this.shardCount).filter((shard) => load[shard - 1]! < MAX_CONNECTIONS_PER_SHARD);
    const [first, second = first] = open;
    if (first === undefined || second === undefined) return undefined;
    const preferred = load[second - 1]! < load[first - 1]! ? second : first;
    const least = Math.min(...open.map((shard) => load[shard - 1]!));
    if (load[preferred - 1]! <= least + BALANCE_SLACK) return preferred;
    return open.find((shard) => load[shard - 1] === least);
  }

  private hasRoom(shard: number): boolean {
    return this.effectiveLoad()[shard - 1]! < MAX_CONNECTIONS_PER_SHARD;
  }

  /** Reported connections plus placements still on their way. */
  private effectiveLoad(): number[] {
    const load = [...this.load];
    const now = Date.now();
    for (const [clientId, { shard, expires }] of this.pending) {
      if (expires <= now) this.pending.delete(clientId);
      else load[shard - 1]! += 1;
    }
    return load;
  }
}

/** A connection's message: the leader checks the key and runs onMessage once per idempotency key. */
async function write(req: Request, edge: Edge, connection: string, key: string, seq: string | null): Promise<Response> {
  const idempotencyKey = req.headers.get(HEADER.idempotencyKey) ?? crypto.randomUUID();
  // The leader remembers ids and keys: they are bounded before anything is read.
  if (connection.length > MAX_ID_LENGTH || key.length > MAX_ID_LENGTH || idempotencyKey.length > MAX_ID_LENGTH) {
    return json(400, { error: `Connection id, key and Idempotency-Key are at most ${MAX_ID_LENGTH} characters` });
  }
  if (parseSeq(seq) === null) return json(400, { error: `${HEADER.seq} is a positive integer` });
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body === undefined) return json(413, { error: `Body larger than ${MAX_BODY_BYTES} bytes` });
  const headers = new Headers({
    "content-type": req.headers.get("content-type") ?? "text/plain;charset=UTF-8",
    [HEADER.idempotencyKey]: idempotencyKey,
    [HEADER.connection]: connection,
    [HEADER.key]: key,
  });
  if (seq !== null) headers.set(HEADER.seq, seq);
  const res = await toLeader(edge, "", { method: "POST", headers, body });
  if (res.status >= 500) {
    // What a failing room says (an exception, a connection string) is for the server log only.
    console.error(`party-shard: room ${edge.room} answered a write ${res.status}:`, await res.text());
    return json(502, { error: `The room answered ${res.status}` });
  }
  // Batches are offered only when the room says it takes them (an older runtime would run a batch as one message).
  const batch = res.headers.get(HEADER.batch);
  return new Response(res.body, { status: res.status, headers: { ...CORS_HEADERS, ...(batch === "1" ? { [HEADER.batch]: "1" } : {}) } });
}

/**
 * Several writes of one connection. The leader runs them in order and stops at the first that
 * may succeed later (425, 503); the rest go again from there, with the same keys, so each runs
 * once and none overtakes another. Answers 200 with each write's own status, in order.
 */
async function writeBatch(req: Request, edge: Edge, connection: string, key: string): Promise<Response> {
  if (connection.length > MAX_ID_LENGTH || key.length > MAX_ID_LENGTH) {
    return json(400, { error: `Connection id and key are at most ${MAX_ID_LENGTH} characters` });
  }
  const body = await readBody(req, MAX_BATCH_BYTES);
  if (body === undefined) return json(413, { error: `Batch larger than ${MAX_BATCH_BYTES} bytes` });
  let entries: BatchEntry[] | string;
  try {
    entries = parseBatch(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body), MAX_BATCH_WRITES, MAX_ID_LENGTH);
  } catch {
    entries = "A batch is UTF-8 JSON";
  }
  if (typeof entries === "string") return json(400, { error: entries });
  const results: BatchResult[] = entries.map(() => ({ status: 502, error: "The room did not answer" }));
  let from = 0;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS && from < entries.length; attempt++) {
    if (attempt > 1) await sleep(backoff(attempt));
    const headers = new Headers({ "content-type": BATCH_TYPE, [HEADER.connection]: connection, [HEADER.key]: key });
    const res = await attemptLeader(edge, "", { method: "POST", headers, body: JSON.stringify(entries.slice(from)) }, attempt, "a batch");
    if (!res || RETRY_STATUSES.includes(res.status) || res.status >= 500) continue;
    if (!res.ok) {
      // A refusal of the whole batch is each write's answer.
      const error = await res.text();
      for (let i = from; i < entries.length; i++) results[i] = { status: res.status, error };
      break;
    }
    let answered: BatchResult[];
    try {
      answered = ((await res.json()) as { results: BatchResult[] }).results.slice(0, entries.length - from);
    } catch (error) {
      console.error("party-shard: the room's answer to a batch was not its results", error);
      continue;
    }
    answered.forEach((result, i) => (results[from + i] = { status: result.status, ...(result.error ? { error: String(result.error) } : {}) }));
    const open = answered.findIndex((result) => RETRY_STATUSES.includes(result.status));
    from += open === -1 ? answered.length : open;
  }
  return json(200, { results }, { [HEADER.batch]: "1" });
}

/** Any other POST: the party's onBeforeRequest, then its onRequest, as for a direct request. */
async function roomRequest(req: Request, edge: Edge): Promise<Response> {
  const allowed = await edge.hook("request", req);
  if (allowed instanceof Response) return allowed;
  const body = await readBody(allowed, MAX_BODY_BYTES);
  if (body === undefined) return json(413, { error: `Body larger than ${MAX_BODY_BYTES} bytes` });
  const headers = new Headers([...allowed.headers]);
  if (!headers.has(HEADER.idempotencyKey)) headers.set(HEADER.idempotencyKey, crypto.randomUUID());
  headers.set(HEADER.forwarded, ROUTER_PARTY);
  return toLeader(edge, pathAfterRoom(allowed.url), { method: allowed.method, headers, body });
}

/**
 * At-least-once to the leader, with the same key: sent again when nothing answered, or on 425
 * and 502–504, which say in HTTP that the request was not processed (the party's own 503 too:
 * it gets the same Idempotency-Key each time, to drop a repeat).
 */
async function toLeader(edge: Edge, path: string, init: { method: string; headers: Headers; body: ArrayBuffer }): Promise<Response> {
  let last: Response | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt > 1) await sleep(backoff(attempt));
    last = (await attemptLeader(edge, path, init, attempt, "a request")) ?? last;
    if (last && !RETRY_STATUSES.includes(last.status)) return last;
  }
  return last ?? json(502, { error: "The room did not answer" });
}

/** One attempt to the leader (single writes, batches, requests); undefined when nothing answered. */
async function attemptLeader(edge: Edge, path: string, init: { method: string; headers: Headers; body: ArrayBuffer | string }, attempt: number, what: string): Promise<Response | undefined> {
  init.headers.set(HEADER.attempt, String(attempt));
  try {
    // A fresh stub per attempt (the host makes one per call): a broken stub stays broken.
    const res = await withTimeout(edge.leader(path, init), ATTEMPT_TIMEOUT_MS);
    if (res.status >= 500 && what === "a batch") console.error(`party-shard: room ${edge.room} answered a batch ${res.status}:`, await res.clone().text());
    return res;
  } catch (error) {
    console.error(`party-shard: delivery of ${what} to the room failed`, error);
    return undefined;
  }
}

function backoff(attempt: number): number {
  return Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
}

/** A content type's media type, without parameters, in lower case. */
function mediaType(contentType: string | null): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Shards ordered by a rendezvous hash of the client id: the first two are its two choices. */
function rendezvousOrder(clientId: string, shardCount: number): number[] {
  const scored = Array.from({ length: shardCount }, (_, i) => ({ shard: i + 1, score: hash32(`${clientId}#${i + 1}`) }));
  return scored.sort((a, b) => b.score - a.score || a.shard - b.shard).map(({ shard }) => shard);
}

/** FNV-1a with a murmur3 finaliser, so similar ids spread evenly. */
function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/** The request path below /parties/<router>/<room>, with its query, so the room sees what was asked. */
function pathAfterRoom(url: string): string {
  const { pathname, search } = new URL(url);
  const rest = pathname.split("/").slice(4).join("/");
  return rest || search ? `/${rest}${search}` : "";
}

/** Reads at most `limit` bytes, counting what arrives: a declared length can lie. */
async function readBody(req: Request, limit: number): Promise<ArrayBuffer | undefined> {
  if (!req.body) return new ArrayBuffer(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    size += chunk.value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(chunk.value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body.buffer;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...CORS_HEADERS, ...headers },
  });
}

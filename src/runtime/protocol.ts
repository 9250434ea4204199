/**
 * What the leader, its shards and the router say to each other: room names, headers, the frames
 * of a shard's link, and how a message is carried in them.
 *
 * Invariants kept here:
 * - a message reaches a client as the party's own WebSocket would send it: text stays text,
 *   bytes stay bytes, anything else becomes `String(value)` (WebIDL's conversion);
 * - every header of ours starts with HEADER_PREFIX, so one check drops them all at the edge;
 * - shard rooms are `<room>!shard-<n>`, a name the router's edge never accepts from a client.
 */

const HEADER = {
  /** On a shard's link socket: the shard's number, and (PartyServer) the ticket the leader gave it; a client's socket the router hands a shard carries the shard's (tickets.ts). */
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
  /** On a write and its answer: the shard holding the writer's socket (a hint; that shard checks the key). */
  holder: "x-party-shard-holder",
  /** Between the router's rooms: placement (older routers), load reports, and the edge asking for the counts. */
  place: "x-party-shard-place",
  load: "x-party-shard-load",
  counts: "x-party-shard-counts",
  stats: "x-party-shard-stats",
  /** From the router to a shard: the socket request's `cf` as the edge saw it (JSON, percent-encoded; at most MAX_CF_BYTES). */
  cf: "x-party-shard-cf",
  /** From an operator: the deploy's PARTY_SHARD_VIEW_TOKEN, to read the router's load view. */
  viewToken: "x-party-shard-view-token",
  idempotencyKey: "idempotency-key",
} as const;
/** Every header of ours starts so; public requests never carry them past the edge. */
const HEADER_PREFIX = "x-party-shard-";
/** A write's answer when its connection is unknown, or its key not the connection's: alike, so neither tells the other. */
const UNKNOWN_CONNECTION = "This room does not know that connection (yet)";
/** The deploy's variable holding the token that reads the router's load view (HEADER.viewToken). */
const VIEW_TOKEN_VAR = "PARTY_SHARD_VIEW_TOKEN";
/** The query parameter carrying a socket's write key. */
const KEY_PARAM = "_psk";
/** The content type of a request carrying several writes of one connection, in order. */
const BATCH_TYPE = "application/vnd.party-shard.batch+json";
const LINK_ID_PREFIX = "party-shard-link-";
const SHARD_ROOM = /^(.+)!shard-(\d+)$/;
/**
 * The WebSocket message limit of a shard's link: what Cloudflare receives in one message (32 MiB,
 * as from a client). A bigger frame closes the link (1009), and frames from the leader are not
 * resent, so the shard's clients would miss it. A client's message can be that size too; with
 * its frame's few hundred bytes around it, only a message within ~1 KiB of the limit can pass a
 * client's socket and not the link.
 */
const LINK_MAX_BYTES = 33_554_432;
/**
 * How long a connection id stays its key's after its last socket closed: longer than a client
 * takes to reconnect (partysocket waits at most 10 s between attempts, 4 s per attempt).
 */
const ID_GRACE_MS = 60_000;
/**
 * How long a reconnect's open waits for its client's old socket, still open, to close (shard-opens.ts
 * on one shard, leader-replace.ts across shards): that close was sent first but travels apart.
 */
const REPLACE_WAIT_MS = 1_000;
/** Longest connection id, write key or Idempotency-Key (printable ASCII) a socket or a write may carry. */
const MAX_ID_LENGTH = 128;
/** Bytes of a socket request's `cf` (its JSON) the router passes on; Cloudflare's is ~1–2 KB. */
const MAX_CF_BYTES = 8_192;

function shardRoomId(room: string, shard: number): string {
  return `${room}!shard-${shard}`;
}

/** `{ room, shard }` for a shard room's id; undefined for any other room. */
function parseShardRoom(id: string): { room: string; shard: number } | undefined {
  const match = SHARD_ROOM.exec(id);
  return match ? { room: match[1]!, shard: Number(match[2]) } : undefined;
}

function isLink(id: string): boolean {
  return id.startsWith(LINK_ID_PREFIX);
}

function linkShard(id: string): number {
  return Number.parseInt(id.slice(LINK_ID_PREFIX.length), 10);
}

/**
 * The part of Headers used here: `forEach`, not iteration, because a project whose lib is
 * `["ES2022", "DOM"]` (no DOM.Iterable) has no iterator on Headers, and a generated file must
 * type-check there; structural, because PartyKit's request type brings its own Headers.
 */
interface HeaderList {
  forEach(callback: (value: string, name: string) => void): void;
  delete(name: string): void;
}

/** A header list as `[name, value]` pairs. */
function headerPairs(headers: Pick<HeaderList, "forEach">): [string, string][] {
  const pairs: [string, string][] = [];
  headers.forEach((value, name) => pairs.push([name, value]));
  return pairs;
}

/** Headers not of the WebSocket handshake's hop: those a client's open carries to the leader. */
const HOP_HEADERS = new Set(["upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "host"]);

/** A client's request headers as the party sees them: neither ours nor the handshake's hop. */
function clientHeaders(headers: Pick<HeaderList, "forEach">): [string, string][] {
  return headerPairs(headers).filter(([name]) => !name.startsWith(HEADER_PREFIX) && !HOP_HEADERS.has(name));
}

/** Drops our headers from a request that came from the internet, where anyone can set them. */
function stripInternalHeaders(req: { headers: HeaderList }): void {
  for (const [name] of headerPairs(req.headers)) if (name.startsWith(HEADER_PREFIX)) req.headers.delete(name);
}

/** The request as the party would have got it directly: a copy without our headers (the request itself when it has none). */
function asDirect<R extends Request>(req: R): R {
  if (!headerPairs(req.headers).some(([name]) => name.startsWith(HEADER_PREFIX))) return req;
  const copy = new Request(req);
  stripInternalHeaders(copy);
  return copy as R;
}

// ─── The link protocol ──────────────────────────────────────────────────────────────────────

/** A message in a frame: text, or bytes (as bytes on the link: link-frames.ts); base64 is a batched write's bytes as the client sent them. */
type Data = { text: string } | { bytes: Uint8Array } | { base64: string };
interface Kept {
  state: unknown;
  attachment: unknown;
  tags: string[];
  /** The highest write number taken from this connection: kept with it so a woken leader still refuses older writes. */
  seq?: number;
}
/**
 * A keyed client whose last socket closed: its id stays its key's until `until` (ID_GRACE_MS
 * later), with the highest write number taken from it, so neither a squatter nor a replayed
 * write gets in while it reconnects.
 */
interface Departed {
  id: string;
  key: string;
  seq: number;
  until: number;
}
interface ClientRecord {
  id: string;
  /** Names this socket of the id among its shard's sockets (SocketTag): frames for it carry it as `at`. */
  socket?: string;
  /** The URL the client would have used without the router: `/parties/<party>/<room>`, no key. */
  uri: string;
  key: string | null;
  kept: Kept;
}
/**
 * Shard → leader. Every frame but hello has a sequence number; `retry` marks a resent frame.
 * A hello's `n` counts the hellos of its incarnation (absent from shards before it); `leader` and
 * `got` say which leader's frames it took, up to which number (also sent alone: `got`).
 * `frames`: several numbered frames in one link message, taken in order and acknowledged once.
 */
type ShardFrame =
  | { t: "hello"; room: string; incarnation: string; n?: number; acked: number; clients: ClientRecord[]; left?: Departed[]; leader?: string; got?: number; batches?: true }
  | { t: "frames"; frames: RelayFrame[]; got?: number }
  | { t: "got"; n: number }
  | { t: "open"; seq: number; id: string; socket?: string; uri: string; key: string | null; headers: [string, string][]; cf?: string; taken?: number; retry?: true }
  | { t: "message"; seq: number; id: string; data: Data; retry?: true }
  | { t: "close"; seq: number; id: string; code: number; reason: string; displaced?: true; retry?: true }
  | { t: "error"; seq: number; id: string; error: string; retry?: true }
  // A routed write (its id's, as its headers say), answered by a `wrote` of its seq (shard-writes.ts).
  | { t: "write"; seq: number; id: string; headers: [string, string][]; data: Data; retry?: true };
/**
 * Leader → shard. `upTo`: only clients whose open the leader had seen get a broadcast. `at`: the
 * socket of `to` a frame is for (its open's `socket`), so nothing meant for a socket that closed
 * reaches a later socket of the same id (absent from leaders before it: any socket of the id).
 * `n`: the frame's number from the leader that named itself in its `welcome` (absent from
 * leaders before it), so a frame sent again on a new link is taken once; `hibernates`: the
 * party hibernates, so an idle link may close and let it be evicted, as it would be unsharded;
 * `writes`: it takes routed writes on the link (absent from leaders before it: by request).
 */
type LeaderFrame =
  | { t: "ack"; seq: number; waiting?: number[] }
  | { t: "resync" }
  | { t: "welcome"; leader: string; hibernates?: boolean; writes?: true }
  | ({ n?: number } & (
      | { t: "send"; to: string; at?: string; data: Data }
      | { t: "broadcast"; data: Data; without: string[]; upTo: number }
      | { t: "broadcasts"; items: (BroadcastItem | SendItem)[] }
      | { t: "close"; to: string; at?: string; code?: number | undefined; reason?: string | undefined; refused?: true }
      | { t: "keep"; to: string; at?: string; kept: Kept }
      // A new highest write number taken from the socket (Kept.seq) and nothing else: the shard
      // keeps it in the socket's own state (its attachment), not in storage.
      | { t: "taken"; to: string; at?: string; seq: number }
      // Only counted (its `got` tells the leader that what the shard relayed before has come: leader-replace.ts).
      | { t: "mark" }
      | { t: "wrote"; seq: number; status: number; body: string }
    ));

/** A broadcast held with others in one frame. */
type BroadcastItem = { data: Data; without: string[]; upTo: number };
/** One message the party sent to each of these sockets (`to[i]`, its socket `at[i]`, null: any of the id), held with others in one frame. */
type SendItem = { data: Data; to: string[]; at: (string | null)[] };

/** What a party may pass to `send`/`broadcast`. Anything but bytes goes as text, as a WebSocket sends it. */
type Message = string | ArrayBuffer | ArrayBufferView;
/** A frame before the shard numbers it. */
type Unnumbered<F> = F extends unknown ? Omit<F, "seq"> : never;
type RelayFrame = Exclude<ShardFrame, { t: "hello" | "frames" | "got" }>;

/** What a shard tells the router's room after each connect and close. */
interface LoadReport {
  shard: number;
  count: number;
  /** The latest client that came or went (a report may stand for several: routers generated by earlier versions read it). */
  id: string;
  /** The shard's incarnation and the report's number in it, to drop reports that arrive late. */
  from: string;
  n: number;
  /** When that incarnation started (epoch ms). */
  startedAt: number;
}

/**
 * A message as a frame carries it. A WebSocket's `send` takes bytes as bytes and converts
 * anything else to a string (WebIDL): a party's `send(42)` reaches a browser as "42", never as
 * an empty binary frame.
 */
function encode(message: unknown): Data {
  // A copy, as a WebSocket's send takes one: the sender may reuse its buffer.
  if (message instanceof ArrayBuffer) return { bytes: new Uint8Array(message.slice(0)) };
  if (ArrayBuffer.isView(message)) return { bytes: new Uint8Array(message.buffer, message.byteOffset, message.byteLength).slice() };
  return { text: String(message) };
}

function decode(data: Data): string | ArrayBuffer {
  if ("text" in data) return data.text;
  if ("bytes" in data) return data.bytes.slice().buffer;
  return fromBase64(data.base64);
}

/** Bytes as base64, in chunks: String.fromCharCode takes a bounded number of arguments. */
function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + 0x8000)));
  return btoa(binary);
}

function fromBase64(text: string): ArrayBuffer {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0)).buffer;
}

/** Reads at most `limit` bytes, counting what arrives: a declared length can lie. Undefined past the limit. */
async function readBody(req: { body: ReadableStream<Uint8Array> | null }, limit: number): Promise<ArrayBuffer | undefined> {
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
  chunks.reduce((offset, chunk) => (body.set(chunk, offset), offset + chunk.byteLength), 0);
  return body.buffer;
}

/** Faults injected in this isolate so far. */
let injectedFaults = 0;

/**
 * With PARTY_SHARD_FAULT_PERCENT set (tests, staging), that share of first attempts fails, and
 * the first one in each isolate always: a short run still meets one (a test asserts it did).
 */
function injectedFault(env: Record<string, unknown>, retry: boolean | undefined, where: string): "before" | "after" | undefined {
  // Brackets: a project with noPropertyAccessFromIndexSignature type-checks this file too.
  const percent = Number(env["PARTY_SHARD_FAULT_PERCENT"] ?? 0);
  if (retry || !(percent > 0) || (injectedFaults > 0 && !(Math.random() * 100 < percent))) return undefined;
  injectedFaults++;
  const when = Math.random() < 0.5 ? "before" : "after";
  // warn, not log: wrangler dev at --log-level info drops console.log, and the tests count these.
  console.warn(`party-shard: injected fault ${when} ${where}`);
  return when;
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

/** `promise`, or a rejection ("no answer within ms ms") once `ms` passed; the timer goes either way. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

/** Ids travel percent-encoded, so any id fits in a header. */
function decodeId(header: string | null): string | undefined {
  try {
    return header === null ? undefined : decodeURIComponent(header);
  } catch {
    return undefined;
  }
}

/**
 * Whether a socket holding `key` is the client that holds `owner`'s id again (a reconnect): only
 * with the same key. A socket without a key proves nothing, so it never takes an id in use.
 */
function sameClient(owner: string | null, key: string | null): boolean {
  return sameKey(owner, key);
}

/** The URL the client would have used without the router: /parties/<party>/<room>, no key. */
function partyUri(clientUri: string, party: string, room: string): string {
  const url = new URL(clientUri);
  url.pathname = url.pathname.replace(/^\/parties\/[^/]+\/[^/]+/, `/parties/${party}/${room}`);
  url.searchParams.delete(KEY_PARAM);
  return url.toString();
}

/** Compares in constant time: a key is a secret. */
function sameKey(expected: string | null, given: string | null): boolean {
  if (!expected || !given || expected.length !== given.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected.charCodeAt(i) ^ given.charCodeAt(i);
  return diff === 0;
}

export {
  BATCH_TYPE,
  fromBase64,
  readBody,
  toBase64,
  ID_GRACE_MS,
  REPLACE_WAIT_MS,
  HEADER,
  HEADER_PREFIX,
  UNKNOWN_CONNECTION,
  KEY_PARAM,
  LINK_ID_PREFIX,
  LINK_MAX_BYTES,
  MAX_CF_BYTES,
  MAX_ID_LENGTH,
  asDirect,
  closeReason,
  decode,
  decodeId,
  encode,
  clientHeaders,
  headerPairs,
  injectedFault,
  isLink,
  linkShard,
  parseShardRoom,
  sameClient,
  partyUri,
  sameKey,
  shardRoomId,
  sleep,
  withTimeout,
  stripInternalHeaders,
  utf8Length,
  VIEW_TOKEN_VAR,
};
export type { BroadcastItem, ClientRecord, Data, Departed, Kept, LeaderFrame, LoadReport, Message, RelayFrame, SendItem, ShardFrame, Unnumbered };

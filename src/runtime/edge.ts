/**
 * The router at the edge: what a client's request to `/parties/<router>/<room>` becomes.
 *
 * - a WebSocket passes the sharded party's own onBeforeConnect, then goes to a shard chosen here,
 *   with no request on its way (edge-placement.ts); a client can never name a shard room
 *   (ROOM_ID_PATTERN has no `!`), nor choose its shard;
 * - a write (a connection's id and key) goes to the leader, which runs it as that connection,
 *   through the shard holding that connection's socket, once that shard said the key is its own:
 *   before that, nothing of the write is read and nothing reaches the leader (a write naming its
 *   shard streams there at once, and that shard checks the key before it reads a byte);
 *   any other POST, and a GET or HEAD without the operator's view token, passes onBeforeRequest
 *   and reaches the party's onRequest (with the token, a GET reads the load view);
 * - requests to the leader are sent again only on answers that say nothing ran (RETRY_STATUSES),
 *   with the same Idempotency-Key; bodies, ids and batches are bounded in bytes before reading.
 */
import { MAX_BATCH_BYTES, MAX_BATCH_WRITES, parseBatch, parseSeq, type BatchEntry, type BatchResult } from "./batch.js";
import { ATTEMPT_TIMEOUT_MS, holderOf, namedHolder, type Writer } from "./edge-holders.js";
import { placeAtEdge } from "./edge-placement.js";
import type { Edge } from "./host.js";
import { BATCH_TYPE, HEADER, KEY_PARAM, LINK_ID_PREFIX, MAX_CF_BYTES, MAX_ID_LENGTH, UNKNOWN_CONNECTION, readBody, sameKey, shardRoomId, sleep, stripInternalHeaders, utf8Length, withTimeout } from "./protocol.js";

/** Delivery of a POST to the leader: attempts, and backoff between them (the time an attempt has: ATTEMPT_TIMEOUT_MS, edge-holders.ts). */
const MAX_ATTEMPTS = 4;
const BACKOFF_BASE_MS = 25;
const BACKOFF_MAX_MS = 1_000;

/** Largest POST body accepted, in bytes actually read. */
const MAX_BODY_BYTES = 1_048_576;
/** Room ids this router accepts. `!` is not among them: shard rooms stay unreachable. */
const ROOM_ID_PATTERN = /^[\w.~:@%+-]{1,128}$/;
/** Origin allowed to POST from a browser. */
const ALLOWED_ORIGIN = "*";

/**
 * Answers after which a write is sent again: 425, the writer's socket is still connecting;
 * 502–504, nothing reached the party or it did not finish. A write runs once per idempotency key
 * at the leader whatever the number of attempts, so sending it again is safe.
 */
const RETRY_STATUSES = [425, 502, 503, 504];
/**
 * A room request reaches the party's onRequest, which the runtime cannot deduplicate: it is sent
 * again only when nothing ran (425, the room's 503, a failed delivery), never after a timeout
 * (the first run may still be going) nor on a 502/504 the party may have answered after its
 * side effects. Unsharded, the client's one request runs once; so it does here.
 */
const REQUEST_RETRY_STATUSES = [425, 503];

const CORS_HEADERS = {
  "access-control-allow-origin": ALLOWED_ORIGIN,
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": `content-type, ${HEADER.idempotencyKey}, ${HEADER.connection}, ${HEADER.key}, ${HEADER.seq}, ${HEADER.holder}`,
  // A browser's helper must read them: this router takes batches; which shard holds its socket.
  "access-control-expose-headers": `${HEADER.batch}, ${HEADER.holder}`,
};

/** A WebSocket to the router: the party's hook, then the less loaded of the client's two shards, chosen here (edge-placement.ts). */
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
  const shard = edge.shards === undefined ? await placedByRoom(edge, clientId) : placeAtEdge(edge, edge.shards, clientId);
  if (shard instanceof Response) return shard;
  if (shard === undefined) return json(503, { error: "Every shard is full" }, { "retry-after": "5" });
  const headers = new Headers(allowed.headers);
  headers.set(HEADER.uri, url.toString());
  // What the platform tells of the connection (country, colo, …): a party may read it in onConnect.
  const cf = cfHeader((allowed as { cf?: unknown }).cf);
  if (cf !== undefined) headers.set(HEADER.cf, cf);
  return edge.toShard(shardRoomId(edge.room, shard), url.search, headers);
}

/** A router generated before it said its shard count: its room places the socket. */
async function placedByRoom(edge: Edge, clientId: string): Promise<number | Response> {
  const placement = await edge.routerRoom(edge.room)("", { method: "POST", headers: { [HEADER.place]: clientId } });
  if (!placement.ok) return placement;
  return ((await placement.json()) as { shard: number }).shard;
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
  const viewToken = req.headers.get(HEADER.viewToken);
  const holder = req.headers.get(HEADER.holder);
  stripInternalHeaders(req);
  switch (req.method) {
    case "POST": {
      if (connection === null || key === null) return roomRequest(req, edge);
      const writer = { connection, key, holder };
      // By media type: a client may add parameters (a charset) to it.
      return mediaType(req.headers.get("content-type")) === BATCH_TYPE ? writeBatch(req, edge, writer) : write(req, edge, writer, seq);
    }
    case "OPTIONS":
      // A write's preflight (it asks for our headers) is the router's to answer. Any other is
      // the room's, as it would be directly: the party's own CORS (an `authorization` header,
      // its origins) decides what a browser may send it.
      return asksForWrite(req) ? new Response(null, { status: 204, headers: CORS_HEADERS }) : roomRequest(req, edge);
    case "GET":
    case "HEAD":
      // The load view (occupancy per shard, the leader's counts) is the operator's: only with the
      // deploy's token. Any other GET is the room's own, as unsharded, where it could reveal
      // nothing of the router.
      return viewAllowed(edge.viewToken, viewToken) ? req : roomRequest(req, edge);
    default:
      return json(405, { error: "Use GET or POST" }, { allow: "GET, HEAD, POST, OPTIONS" });
  }
}

/** A connection's message: its shard checks the key, then the leader runs onMessage once per idempotency key. */
async function write(req: Request, edge: Edge, writer: Writer, seq: string | null): Promise<Response> {
  const { connection, key } = writer;
  const idempotencyKey = req.headers.get(HEADER.idempotencyKey) ?? crypto.randomUUID();
  // The leader remembers ids and keys: they are bounded before anything is read.
  if (connection.length > MAX_ID_LENGTH || key.length > MAX_ID_LENGTH || idempotencyKey.length > MAX_ID_LENGTH) {
    return json(400, { error: `Connection id, key and Idempotency-Key are at most ${MAX_ID_LENGTH} characters` });
  }
  if (parseSeq(seq) === null) return json(400, { error: `${HEADER.seq} is a positive integer` });
  const headers = new Headers({
    "content-type": req.headers.get("content-type") ?? "text/plain;charset=UTF-8",
    [HEADER.idempotencyKey]: idempotencyKey,
    [HEADER.connection]: connection,
    [HEADER.key]: key,
  });
  if (seq !== null) headers.set(HEADER.seq, seq);
  const { holder, answer, body } = await viaNamedShard(edge, writer, req.body, headers, "a write");
  if (holder !== undefined && answer && !RETRY_STATUSES.includes(answer.status)) {
    void body?.cancel().catch(() => undefined);
    return answered(edge, answer, holder);
  }
  if (holder === undefined) return unknownWriter(body);
  const bytes = await readBody({ body }, MAX_BODY_BYTES);
  if (bytes === undefined) return json(413, { error: `Body larger than ${MAX_BODY_BYTES} bytes` });
  // Through the writer's shard: it checks the key and takes its writers' writes to the leader together (shard-writes.ts).
  const res = await toLeader(edge, "", { method: "POST", headers, body: bytes }, "a write", viaShard(edge, holder));
  return leftShard(res) ? unknownWriter(null) : answered(edge, res, holder);
}

/**
 * A write (or a batch) that names its shard goes there at once, one request, its body streamed:
 * the shard checks the key before it reads any of it (shard-writes.ts), and bounds what it reads.
 * The router keeps a copy of the stream (`body`), read only once a shard vouched: for another
 * shard, when the named one does not hold the writer (a stale name: the others are asked with the
 * headers alone), or for the attempts after one that failed. `answer`: the named shard's, when it
 * holds the writer; `holder`: the shard that holds it, undefined when none does.
 */
async function viaNamedShard(edge: Edge, writer: Writer, body: ReadableStream<Uint8Array> | null, headers: Headers, what: "a write" | "a batch") {
  const named = namedHolder(edge, writer);
  let saidNo = false;
  if (named !== undefined && body) {
    const [streamed, rest] = body.tee();
    body = rest;
    const answer = await attemptLeader(edge, "", { method: "POST", headers, body: streamed }, 1, what, viaShard(edge, named));
    if (answer && !leftShard(answer)) return { holder: named, answer, body };
    // A shard that did not answer is asked again with the others; one that said it does not hold the writer, not.
    saidNo = answer !== undefined;
  }
  return { holder: await holderOf(edge, writer, named, saidNo), answer: undefined, body };
}

/** The room's answer to a write, to its client: which shard holds the writer, and whether the room takes batches. */
async function answered(edge: Edge, res: Response, holder: number): Promise<Response> {
  if (res.status >= 500) {
    // What a failing room says (an exception, a connection string) is for the server log only.
    console.error(`party-shard: room ${edge.room} answered a write ${res.status}:`, await res.text());
    return json(502, { error: `The room answered ${res.status}` });
  }
  // Batches are offered only when the room says it takes them (an older runtime would run a batch as one message).
  const batch = res.headers.get(HEADER.batch);
  return new Response(res.body, { status: res.status, headers: { ...CORS_HEADERS, [HEADER.holder]: String(holder), ...(batch === "1" ? { [HEADER.batch]: "1" } : {}) } });
}

/**
 * Several writes of one connection. The leader runs them in order and stops at the first that
 * may succeed later (425, 503); the rest go again from there, with the same keys, so each runs
 * once and none overtakes another. Answers 200 with each write's own status, in order.
 */
async function writeBatch(req: Request, edge: Edge, writer: Writer): Promise<Response> {
  const { connection, key } = writer;
  if (connection.length > MAX_ID_LENGTH || key.length > MAX_ID_LENGTH) {
    return json(400, { error: `Connection id and key are at most ${MAX_ID_LENGTH} characters` });
  }
  const headersOf = () => new Headers({ "content-type": BATCH_TYPE, [HEADER.connection]: connection, [HEADER.key]: key });
  // Its shard's answer to the batch streamed there, if it named its shard: the first attempt's.
  const { holder, answer, body: stream } = await viaNamedShard(edge, writer, req.body, headersOf(), "a batch");
  if (holder === undefined) return unknownWriter(stream);
  const body = await readBody({ body: stream }, MAX_BATCH_BYTES);
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
  let first = answer;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS && from < entries.length; attempt++) {
    if (attempt > 1) await sleep(backoff(attempt));
    const res = first ?? (await attemptLeader(edge, "", { method: "POST", headers: headersOf(), body: JSON.stringify(entries.slice(from)) }, attempt, "a batch", viaShard(edge, holder)));
    first = undefined;
    if (res && leftShard(res)) {
      for (let i = from; i < entries.length; i++) results[i] = { status: 425, error: UNKNOWN_CONNECTION };
      break;
    }
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
  return json(200, { results }, { [HEADER.batch]: "1", [HEADER.holder]: String(holder) });
}

/**
 * No shard holds that connection with that key: the leader's own answer for a connection it does
 * not know yet (the writer retries), whether the id is connected or not. The body is never read.
 */
function unknownWriter(body: ReadableStream<Uint8Array> | null): Response {
  void body?.cancel().catch(() => undefined);
  return new Response(UNKNOWN_CONNECTION, { status: 425, headers: { ...CORS_HEADERS, [HEADER.batch]: "1" } });
}

/** Any other POST (or a preflight, or a GET): the party's onBeforeRequest, then its onRequest, as for a direct request. */
async function roomRequest(req: Request, edge: Edge): Promise<Response> {
  const allowed = await edge.hook("request", req);
  if (allowed instanceof Response) return allowed;
  const bodiless = allowed.method === "GET" || allowed.method === "HEAD";
  const body = bodiless ? undefined : await readBody(allowed, MAX_BODY_BYTES);
  if (body === undefined && !bodiless) return json(413, { error: `Body larger than ${MAX_BODY_BYTES} bytes` });
  const headers = new Headers(allowed.headers);
  if (!headers.has(HEADER.idempotencyKey)) headers.set(HEADER.idempotencyKey, crypto.randomUUID());
  headers.set(HEADER.forwarded, "1");
  return toLeader(edge, pathAfterRoom(allowed.url), { method: allowed.method, headers, ...(body ? { body } : {}) }, "a request");
}

/**
 * To the leader, with the same Idempotency-Key each attempt: a write until it is answered (see
 * RETRY_STATUSES), a room request only while nothing ran (see REQUEST_RETRY_STATUSES).
 */
async function toLeader(edge: Edge, path: string, init: { method: string; headers: Headers; body?: ArrayBuffer }, what: "a write" | "a request", to = edge.leader): Promise<Response> {
  const retryOn = what === "a write" ? RETRY_STATUSES : REQUEST_RETRY_STATUSES;
  let last: Response | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (attempt > 1) await sleep(backoff(attempt));
    last = (await attemptLeader(edge, path, init, attempt, what, to)) ?? last;
    if (last && !retryOn.includes(last.status)) return last;
  }
  return last ?? json(502, { error: "The room did not answer" });
}

/** One attempt to the leader (single writes, batches, requests), `to` it or through a shard; undefined when nothing answered. */
async function attemptLeader(edge: Edge, path: string, init: { method: string; headers: Headers; body?: ArrayBuffer | string | ReadableStream<Uint8Array> }, attempt: number, what: string, to = edge.leader): Promise<Response | undefined> {
  init.headers.set(HEADER.attempt, String(attempt));
  try {
    // A fresh stub per attempt (the host makes one per call): a broken stub stays broken. A room
    // request has no timeout of ours: its onRequest may take long, and must not run twice.
    const answer = to(path, init);
    const res = await (what === "a request" ? answer : withTimeout(answer, ATTEMPT_TIMEOUT_MS));
    if (res.status >= 500 && what === "a batch") console.error(`party-shard: room ${edge.room} answered a batch ${res.status}:`, await res.clone().text());
    return res;
  } catch (error) {
    console.error(`party-shard: delivery of ${what} to the room failed`, error);
    return undefined;
  }
}

/** A write's way to the leader through the shard holding its writer's socket. */
function viaShard(edge: Edge, shard: number) {
  return edge.routerRoom(shardRoomId(edge.room, shard));
}

/** The shard no longer holds the writer's socket under its key (it left meanwhile): nothing was read or run. */
function leftShard(res: Response): boolean {
  return res.status === 404 && res.headers.get(HEADER.holder) === "none";
}

function backoff(attempt: number): number {
  return Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
}

/** A request's `cf` as a header: JSON, percent-encoded (a city may be any text); none when absent or over MAX_CF_BYTES. */
function cfHeader(cf: unknown): string | undefined {
  if (cf === null || typeof cf !== "object") return undefined;
  try {
    const json = JSON.stringify(cf);
    return utf8Length(json) <= MAX_CF_BYTES ? encodeURIComponent(json) : undefined;
  } catch {
    return undefined;
  }
}

/** The view token asked for, and the deploy has one: compared in constant time, as a key is. */
function viewAllowed(expected: unknown, given: string | null): boolean {
  return typeof expected === "string" && expected.length > 0 && sameKey(expected, given);
}

/** Whether a CORS preflight is for a write: the browser asks to send a connection's id. */
function asksForWrite(req: Request): boolean {
  const asked = (req.headers.get("access-control-request-headers") ?? "").toLowerCase();
  return asked.split(",").some((name) => name.trim() === HEADER.connection);
}

/** A content type's media type, without parameters, in lower case. */
function mediaType(contentType: string | null): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** The request path below /parties/<router>/<room>, with its query, so the room sees what was asked. */
function pathAfterRoom(url: string): string {
  const { pathname, search } = new URL(url);
  const rest = pathname.split("/").slice(4).join("/");
  return rest || search ? `/${rest}${search}` : "";
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...CORS_HEADERS, ...headers },
  });
}

export { ATTEMPT_TIMEOUT_MS, BACKOFF_BASE_MS, BACKOFF_MAX_MS, CORS_HEADERS, RETRY_STATUSES, edgeConnect, edgeRequest, json };

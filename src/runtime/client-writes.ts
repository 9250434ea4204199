/**
 * The client's writes on their way to the router: one lane per socket, sent a request at a time
 * (several writes together once the router said it takes batches), retried with backoff until
 * each is taken or has finally failed. The room runs each write once by its idempotency key, and
 * never runs a write after a later one of the same key (its number, `seq`).
 *
 * Bounded: a socket's lane holds at most MAX_QUEUED_WRITES writes and MAX_QUEUED_BYTES bytes;
 * a write has failed WRITE_TIMEOUT_MS after its first attempt.
 */
import { MAX_BATCH_BYTES, MAX_BATCH_WRITES, type BatchEntry } from "./batch.js";
import { BATCH_TYPE, KEY_PARAM, sleep, toBase64, utf8Length } from "./protocol.js";
import { holderHeader, learnHolder, nextSeq } from "./write-memory.js";

/** Attempts per request, and the backoff between them (exponential, with full jitter). */
const MAX_ATTEMPTS = 5;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** The longest a write may take from its first attempt; past it, it has failed (it may still have run). */
const WRITE_TIMEOUT_MS = 15_000;
/** Writes one socket may have waiting, and their bytes; past either, a write fails at once. */
const MAX_QUEUED_WRITES = 10_000;
const MAX_QUEUED_BYTES = 16_777_216;
/** How long a write waits for a socket that has not connected yet to learn its URL. */
const CONNECT_WAIT_MS = 10_000;
/** Random bytes per key: 128 bits cannot be guessed. */
const KEY_BYTES = 16;

/** What sendViaRouter reads from a PartySocket; present in partysocket 0.0.x through 1.x. */
interface RoutableSocket {
  readonly url: string;
  readonly roomUrl?: string;
  readonly _pkurl?: string;
  readonly id?: string;
  readonly _pk?: string;
  send(payload: Payload): void;
  addEventListener(type: "open", listener: () => void): void;
  removeEventListener(type: "open", listener: () => void): void;
}

type Payload = string | ArrayBufferLike | Blob | ArrayBufferView;
/** fetch's own body type: BodyInit in the DOM lib, undici's in Node's types. */
type FetchBody = NonNullable<NonNullable<Parameters<typeof fetch>[1]>["body"]>;

/** One write waiting or on its way, and how its caller hears the outcome. */
interface Write {
  payload: Payload;
  idempotencyKey: string;
  /** Its number among the writes made with its socket's key, given when it first leaves: the room never runs it after a higher one. */
  seq?: number;
  /** UTF-8 bytes of the payload. */
  bytes: number;
  /** Set at its first attempt: the write has failed once this passes. */
  deadline?: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** A socket's writes, oldest first; only one request of a socket is on its way at a time. */
interface Lane {
  waiting: Write[];
  bytes: number;
  busy: boolean;
  /** `/parties/<router>/`: a socket whose URL starts otherwise sends on itself. */
  routerPath: string;
}

const lanes = new WeakMap<RoutableSocket, Lane>();

/** The write with its number among its key's writes (write-memory.ts), given once. */
function numbered(write: Write, key: string): Write {
  write.seq ??= nextSeq(key);
  return write;
}
/**
 * Router URLs that said they take batches (the x-party-shard-batch answer header). Until one
 * has, its writes go one per request: an older router would run a batch as one message.
 */
const batchingRouters = new Set<string>();

/**
 * RouterClient.sendViaRouter (client.ts) for sockets on `routerPath`: while one request of the
 * socket is on its way, its next writes wait and then go out together, each run once by its key.
 */
function sendViaRouter(socket: RoutableSocket | null | undefined, payload: Payload, routerPath: string): Promise<void> {
  if (!socket) return Promise.resolve();
  try {
    const lane = lanes.get(socket) ?? { waiting: [], bytes: 0, busy: false, routerPath };
    lanes.set(socket, lane);
    // Nothing of this socket waiting: a socket known not to be routed sends now, as before.
    if (!lane.busy && lane.waiting.length === 0 && routeOf(socket, routerPath)?.plain) {
      socket.send(payload);
      return Promise.resolve();
    }
    const bytes = byteLength(payload);
    if (lane.waiting.length >= MAX_QUEUED_WRITES || lane.bytes + bytes > MAX_QUEUED_BYTES) {
      return failed(new Error(`party-shard: this socket already has ${lane.waiting.length} writes (${lane.bytes} bytes) waiting, the most it may (${MAX_QUEUED_WRITES} writes, ${MAX_QUEUED_BYTES} bytes); this write was dropped`));
    }
    let settle!: Pick<Write, "resolve" | "reject">;
    const outcome = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    lane.waiting.push({ payload, idempotencyKey: randomKey(), bytes, ...settle });
    lane.bytes += bytes;
    if (!lane.busy) {
      lane.busy = true;
      // After the caller's own loop: writes sent in one go leave in one request.
      queueMicrotask(() => void pump(socket, lane));
    }
    return quiet(outcome);
  } catch (error) {
    return failed(error);
  }
}

/** How a socket's writes travel: on the socket itself, or POSTed to the router with its key. */
type Route = { plain: true } | { plain: false; url: string; key: string };

/** Undefined while the socket has not connected and its URL (or key) cannot be known yet. */
function routeOf(socket: RoutableSocket, routerPath: string): Route | undefined {
  const room = socket.roomUrl || socket._pkurl || socket.url;
  if (!room) return undefined;
  const url = new URL(room);
  if (!url.pathname.startsWith(routerPath)) return { plain: true };
  // The key is in the connect query, which a query function only gives at connect time.
  if (!socket.url) return undefined;
  const key = new URL(socket.url).searchParams.get(KEY_PARAM);
  // Without a key the socket sends on its own connection: the shard relays it, and the
  // connection itself is the proof.
  if (!key) return { plain: true };
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.search = "";
  return { plain: false, url: url.toString(), key };
}

/** Sends the lane's writes, a request at a time, until none is left. */
async function pump(socket: RoutableSocket, lane: Lane): Promise<void> {
  try {
    while (lane.waiting.length > 0) await sendNext(socket, lane);
  } catch (error) {
    // Whatever went wrong, the lane must not stay blocked: what waits has failed.
    for (const write of take(lane, lane.waiting.length)) write.reject(error);
  } finally {
    lane.busy = false;
  }
}

async function sendNext(socket: RoutableSocket, lane: Lane): Promise<void> {
  let route = routeOf(socket, lane.routerPath);
  if (!route) {
    try {
      await connected(socket);
      route = routeOf(socket, lane.routerPath);
      if (!route) throw new Error("the socket connected without a URL");
    } catch (error) {
      // Every write waiting now waited for this connect.
      for (const write of take(lane, lane.waiting.length)) write.reject(error);
      return;
    }
  }
  if (route.plain) {
    for (const write of take(lane, lane.waiting.length)) {
      try {
        socket.send(write.payload);
        write.resolve();
      } catch (error) {
        write.reject(error);
      }
    }
    return;
  }
  const batch = batchingRouters.has(route.url) ? await nextBatch(lane, route.key) : [{ write: numbered(take(lane, 1)[0]!, route.key) }];
  try {
    if (batch.length === 1) await deliverOne(socket, route, batch[0]!.write);
    else if (batch.length > 1) await deliverBatch(socket, route, batch);
  } catch (error) {
    // These writes left the queue: whatever went wrong, each of them is settled.
    for (const { write } of batch) write.reject(error);
  }
}

interface Batched {
  write: Write;
  /** The write as a batch entry (JSON), unless it is sent alone. */
  entry?: string;
}

/**
 * The oldest writes that fit one request; a write too large for a batch goes alone. A write that
 * cannot be read (a Blob whose reading fails) fails alone and leaves the queue; the rest go on.
 */
async function nextBatch(lane: Lane, key: string): Promise<Batched[]> {
  const batch: Batched[] = [];
  let bytes = 2;
  for (let i = 0; i < lane.waiting.length && batch.length < MAX_BATCH_WRITES; ) {
    const write = numbered(lane.waiting[i]!, key);
    let entry: string;
    try {
      entry = JSON.stringify(await toEntry(write));
    } catch (error) {
      lane.waiting.splice(i, 1);
      lane.bytes -= write.bytes;
      write.reject(error);
      continue;
    }
    const size = byteLength(entry) + 1;
    if (bytes + size > MAX_BATCH_BYTES) break;
    batch.push({ write, entry });
    bytes += size;
    i++;
  }
  if (batch.length === 0) return lane.waiting.length > 0 ? [{ write: take(lane, 1)[0]! }] : [];
  take(lane, batch.length);
  return batch.length > 1 ? batch : [{ write: batch[0]!.write }];
}

async function toEntry(write: Write): Promise<BatchEntry> {
  const { payload, idempotencyKey: k, seq: s = 0 } = write;
  if (typeof payload === "string") return { k, s, t: payload };
  const bytes =
    typeof Blob !== "undefined" && payload instanceof Blob
      ? new Uint8Array(await payload.arrayBuffer())
      : ArrayBuffer.isView(payload)
        ? new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)
        : new Uint8Array(payload as ArrayBufferLike);
  return { k, s, b: toBase64(bytes) };
}

function take(lane: Lane, count: number): Write[] {
  const taken = lane.waiting.splice(0, count);
  for (const write of taken) lane.bytes -= write.bytes;
  return taken;
}

function headersFor(socket: RoutableSocket, route: Extract<Route, { plain: false }>, contentType: string): Record<string, string> {
  const headers: Record<string, string> = { "content-type": contentType, "x-party-shard-key": route.key };
  const connection = socket.id ?? socket._pk;
  // Percent-encoded: a header carries Latin-1 only, and an id may be any text.
  if (connection) headers["x-party-shard-connection"] = encodeURIComponent(connection);
  return headers;
}

/** A write on its own: its body is the payload, as the router has always taken it. */
async function deliverOne(socket: RoutableSocket, route: Extract<Route, { plain: false }>, write: Write): Promise<void> {
  const type = typeof write.payload === "string" ? "text/plain;charset=UTF-8" : "application/octet-stream";
  const headers = { ...headersFor(socket, route, type), "idempotency-key": write.idempotencyKey, "x-party-shard-seq": String(write.seq ?? 0) };
  await attempts([write], async (signal) => {
    const response = await post(route, { headers, body: write.payload as FetchBody, signal });
    if (response.headers.get("x-party-shard-batch") === "1") batchingRouters.add(route.url);
    if (response.ok) return [200];
    const error = new Error(`router answered ${response.status}: ${await response.text()}`);
    return [{ status: response.status, error }];
  });
}

/** Several writes in one request; the router answers each write's status, in order. */
async function deliverBatch(socket: RoutableSocket, route: Extract<Route, { plain: false }>, batch: Batched[]): Promise<void> {
  const headers = headersFor(socket, route, BATCH_TYPE);
  const entries = new Map(batch.map(({ write, entry }) => [write, entry!]));
  let alone: Write[] = [];
  await attempts(
    batch.map(({ write }) => write),
    async (signal, writes) => {
      const body = `[${writes.map((write) => entries.get(write)).join(",")}]`;
      const response = await post(route, { headers, body, signal });
      if (response.status === 400 || response.status === 413) {
        // The batch itself was refused (limits that differ from ours): each write goes alone.
        alone = writes;
        return writes.map(() => "alone" as const);
      }
      if (!response.ok) {
        const error = new Error(`router answered ${response.status}: ${await response.text()}`);
        return writes.map(() => ({ status: response.status, error }));
      }
      const { results } = (await response.json()) as { results: { status: number; error?: string }[] };
      return writes.map((_, i) => {
        const result = results[i] ?? { status: 503, error: "no answer for this write" };
        return result.status >= 200 && result.status < 300 ? 200 : { status: result.status, error: new Error(`router answered ${result.status}: ${result.error ?? ""}`) };
      });
    },
  );
  for (const write of alone) await deliverOne(socket, route, write);
}

/** A write's request, naming the shard the router last said holds the socket; its answer says it again (write-memory.ts). */
async function post(route: Extract<Route, { plain: false }>, init: { headers: Record<string, string>; body: FetchBody; signal: AbortSignal }): Promise<Response> {
  const response = await fetch(route.url, { method: "POST", ...init, headers: { ...init.headers, ...holderHeader(route.key) } });
  learnHolder(route.key, response);
  return response;
}

/** 200: taken; "alone": to be sent again on its own; otherwise the refusal. */
type Outcome = 200 | "alone" | { status: number; error: Error };

/**
 * Sends `writes` until each is taken or has finally failed: a retry carries the writes still
 * open, in order, with their own keys (the room runs each key once). A request that takes too
 * long is abandoned when its oldest write's WRITE_TIMEOUT_MS runs out; that write has failed.
 */
async function attempts(writes: Write[], send: (signal: AbortSignal, writes: Write[]) => Promise<Outcome[]>): Promise<void> {
  const start = Date.now();
  for (const write of writes) write.deadline ??= start + WRITE_TIMEOUT_MS;
  let open = writes;
  let lastError: unknown = new Error("no attempt made");
  for (let attempt = 1; open.length > 0; attempt++) {
    if (attempt > 1) await sleep(Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (attempt - 2), deadlineOf(open) - Date.now()));
    const now = Date.now();
    for (const write of open) if (write.deadline! <= now) write.reject(timedOut(lastError));
    open = open.filter((write) => write.deadline! > now);
    if (open.length === 0) return;
    if (attempt > MAX_ATTEMPTS) {
      for (const write of open) write.reject(lastError);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(0, deadlineOf(open) - Date.now()));
    let outcomes: Outcome[];
    try {
      outcomes = await send(controller.signal, open);
    } catch (error) {
      lastError = error;
      continue;
    } finally {
      clearTimeout(timer);
    }
    const retry: Write[] = [];
    open.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome === 200) return write.resolve();
      if (outcome === "alone") return;
      lastError = outcome.error;
      if (worthRetrying(outcome.status)) retry.push(write);
      else write.reject(outcome.error);
    });
    open = retry;
  }
}

function deadlineOf(writes: Write[]): number {
  return Math.min(...writes.map((write) => write.deadline!));
}

function timedOut(last: unknown): Error {
  const why = last instanceof Error ? `; last: ${last.message}` : "";
  return new Error(`party-shard: the write was not taken within ${WRITE_TIMEOUT_MS} ms (it may still have run)${why}`);
}

/**
 * 425: the room has not seen this socket's connect yet (it is still on its way), so a moment
 * later the same write succeeds. 408, 429 and 5xx are passing too. Any other refusal (a wrong
 * key, a write too large, an idempotency key reused for another write, 410: a later write of
 * this socket was taken first, or this one already was) is final.
 */
function worthRetrying(status: number): boolean {
  return status === 425 || status === 408 || status === 429 || status >= 500;
}

/** A rejected promise that is also logged; nobody need catch it. */
function failed(error: unknown): Promise<void> {
  return quiet(Promise.reject(error));
}

/** Logs a final failure, and keeps a promise nobody awaits from being an unhandled rejection. */
function quiet(outcome: Promise<void>): Promise<void> {
  outcome.catch((error: unknown) => console.error("party-shard: a write could not be delivered through the router", error));
  return outcome;
}

function connected(socket: RoutableSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.removeEventListener("open", done);
      reject(new Error(`the socket did not connect within ${CONNECT_WAIT_MS} ms`));
    }, CONNECT_WAIT_MS);
    function done() {
      clearTimeout(timer);
      socket.removeEventListener("open", done);
      resolve();
    }
    socket.addEventListener("open", done);
  });
}

function byteLength(payload: Payload): number {
  if (typeof payload === "string") return utf8Length(payload);
  return "byteLength" in payload ? payload.byteLength : payload.size;
}

/** Hex of KEY_BYTES random bytes; Math.random only where there is no Web Crypto at all. */
function randomKey(): string {
  const bytes = new Uint8Array(KEY_BYTES);
  if (typeof crypto !== "undefined" && typeof crypto.getRandomValues === "function") crypto.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export { WRITE_TIMEOUT_MS, randomKey, sendViaRouter };
export type { Payload, RoutableSocket };

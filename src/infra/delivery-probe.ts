import { randomUUID } from "node:crypto";
import { PartySocket } from "partysocket";
import WebSocket from "ws";
import { VIEW_TOKEN_HEADER } from "./dev-process.js";
import { DEFAULT_PAYLOAD, fillPayload, isJson } from "./probe-payload.js";
import { Receipts, type CountMode, type Counted } from "./probe-receipts.js";
import { whenAborted } from "./signals.js";

/**
 * How probe messages are sent:
 *  - `write`: as a client's own message, the way migrated clients write: POST to the router
 *    with the writer's connection id and key, so the party's onMessage runs with it as sender;
 *  - `socket`: `socket.send` on the writer's own socket, as clients of an unsharded room write;
 *  - `request`: a plain HTTP POST to `/parties/<party>/<room>`, which the party's onRequest answers.
 */
export type PublishMode = { kind: "write" } | { kind: "socket" } | { kind: "request"; party: string };

export interface ProbeOptions {
  /** `host:port` of the dev server (partykit dev or wrangler dev). */
  host: string;
  /** Where clients connect: `/parties/<party>/<room>` (on PartyServer, a binding's kebab-case name). */
  party: string;
  room: string;
  publish: PublishMode;
  /** The message, with `{id}` where its token goes (default: DEFAULT_PAYLOAD). */
  payload?: string;
  /** What counts as a client's receipt of a write (see Receipts); default `token`. */
  count?: CountMode;
  clients: number;
  messages: number;
  /** How long to wait for a message after its POST answered, before counting it lost. */
  graceMs?: number;
  connectTimeoutMs?: number;
  /**
   * Stop once `writes` writes were sent or `ms` passed since the first, if none of them has
   * reached any client by then: a party that delivers nothing is said so in seconds, not minutes.
   */
  earlyStop?: { writes: number; ms: number };
  onProgress?: (sent: number) => void;
  /** Sees each publish's answer. */
  onPublished?: (seq: number, status: number, body: string) => void;
  /** Router party whose load view to read once every client is connected. */
  router?: string;
  /** The dev server's view token (DevServer.viewToken): without it the view is the room's own GET. */
  viewToken?: string;
  /** Aborting it stops the probe (its clients closed) with the signal's reason. */
  signal?: AbortSignal;
}

export interface ProbeResult {
  /** Clients that counted receipts: every client but the writer in `write` and `socket` modes. */
  listeners: number;
  /** Writes sent: fewer than asked when the probe stopped early. */
  messages: number;
  /** What counted as a receipt: a frame with the write's token, or any frame after it. */
  counted: Counted;
  /** Receipts that arrived, over listeners × messages. */
  deliveryRatio: number;
  lost: number;
  /** Token frames received twice; not counted (0) when any frame counts. */
  duplicates: number;
  publishFailures: number;
  /** Up to five distinct answers of failed publishes, as `status: body`. */
  failureReasons: string[];
  /** How the writes were answered: HTTP status (or `sent` on a socket, `no answer`) → count. */
  statuses: Record<string, number>;
  /** Frames every client received, how many before the first write, and a few of them. */
  frames: { total: number; beforeWrites: number; sample: string[] };
  /** Set when no write reached any client early on, and the probe stopped there. */
  stoppedEarly?: { afterWrites: number; afterMs: number };
  /** POST sent → the last listener received it, for messages every listener got; null when none did. */
  latencyMs: { p50: number | null; p99: number | null };
  /** Connections per shard as the router saw them with every client connected. */
  shardLoad?: number[];
}

const WRITER = 0;
const KEY_PARAM = "_psk";
// Frames a party sends on connect must not count as receipts of the first write in `any` mode.
const QUIET_MS = 300;
const QUIET_MAX_MS = 2_000;

/**
 * Connects real partysocket clients, publishes one message at a time and counts what each
 * client receives. Latency is measured per message, without queueing behind others.
 */
export async function runDeliveryProbe(options: ProbeOptions): Promise<ProbeResult> {
  options.signal?.throwIfAborted();
  const probe = randomUUID().slice(0, 8);
  const key = randomUUID();
  const graceMs = options.graceMs ?? 1_000;
  const mode = options.count ?? "token";
  const writerListens = options.publish.kind === "request";
  const listeners = writerListens ? options.clients : options.clients - 1;
  // A token, not JSON of ours: it survives a party that wraps or re-encodes what it broadcasts.
  const receipts = new Receipts(options.messages, listeners, new RegExp(`party-shard-probe:${probe}:(\\d+)`));
  let waiting: { seq: number; wake: () => void } | undefined;
  const template = options.payload ?? DEFAULT_PAYLOAD;
  // Every message has the template's shape, so its content type is decided once.
  const contentType = isJson(fillPayload(template, `party-shard-probe:${probe}:0`)) ? "application/json" : "text/plain;charset=UTF-8";

  const sockets = Array.from({ length: options.clients }, (_, client) => {
    const socket = new PartySocket({
      host: options.host,
      party: options.party,
      room: options.room,
      id: `${probe}-${client}`,
      query: client === WRITER && options.publish.kind === "write" ? { [KEY_PARAM]: key } : {},
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    socket.addEventListener("message", (event: MessageEvent) => {
      receipts.onFrame(client, event.data, writerListens || client !== WRITER, performance.now());
      if (waiting && receipts.receipts(mode, waiting.seq).size === listeners) waiting.wake();
    });
    return socket;
  });

  // Rejects once the probe is stopped from outside; never settles otherwise.
  const stopped = options.signal ? whenAborted(options.signal) : new Promise<never>(() => undefined);
  try {
    await Promise.race([Promise.all(sockets.map((socket) => opened(socket, options.connectTimeoutMs ?? 15_000))), stopped]);
    const shardLoad = options.router ? await settledShardLoad(options.host, options.router, options.room, options.viewToken, options.clients) : undefined;
    if (mode !== "token") await quiet(receipts, options.signal);
    const answers = new Answers();
    const shouldStop = options.earlyStop ? earlyStop(options.earlyStop, options.messages) : () => undefined;
    let stoppedEarly: ProbeResult["stoppedEarly"];
    const latencies: number[] = [];
    let writes = 0;
    let firstSentAt: number | undefined;
    for (let seq = 0; seq < options.messages; seq++) {
      options.signal?.throwIfAborted();
      const allArrived = new Promise<void>((wake) => {
        waiting = { seq, wake };
      });
      const sentAt = performance.now();
      firstSentAt ??= sentAt;
      receipts.published = seq + 1;
      writes = seq + 1;
      const token = `party-shard-probe:${probe}:${seq}`;
      const { status, body } = await publish(options, fillPayload(template, token), contentType, sockets[WRITER]!, key);
      answers.record(status, body);
      options.onPublished?.(seq, status, body);
      await delay(graceMs, options.signal, allArrived);
      const got = receipts.receipts(mode, seq);
      if (got.size === listeners) latencies.push(Math.max(...got.values()) - sentAt);
      options.onProgress?.(seq + 1);
      stoppedEarly = shouldStop(writes, performance.now() - firstSentAt, receipts.delivered(mode, writes));
      if (stoppedEarly) break;
    }
    await delay(200, options.signal); // late duplicates still count
    options.signal?.throwIfAborted();
    const counted = receipts.counted(mode);
    const delivered = receipts.delivered(mode, writes);
    const expected = listeners * writes;
    return {
      listeners,
      messages: writes,
      counted,
      deliveryRatio: expected === 0 ? 0 : delivered / expected,
      lost: expected - delivered,
      duplicates: counted === "token" ? receipts.duplicates : 0,
      publishFailures: answers.failures,
      failureReasons: answers.reasons,
      statuses: answers.statuses,
      frames: { total: receipts.frames, beforeWrites: receipts.framesBeforeWrites, sample: receipts.sample },
      ...(stoppedEarly ? { stoppedEarly } : {}),
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
      shardLoad,
    };
  } finally {
    for (const socket of sockets) socket.close();
  }
}

/** Waits until no frame arrived for QUIET_MS (at most QUIET_MAX_MS): what the party sends on connect has come. */
async function quiet(receipts: Receipts, signal: AbortSignal | undefined): Promise<void> {
  const started = performance.now();
  while (performance.now() - started < QUIET_MAX_MS && performance.now() - receipts.lastFrameAt < QUIET_MS) {
    await delay(50, signal);
    signal?.throwIfAborted();
  }
}

/** A publish over the writer's socket: nothing answers it. */
const SENT = -1;

/** How the writes were answered: a count per status, and up to five distinct failures as `status: body`. */
class Answers {
  readonly statuses: Record<string, number> = {};
  readonly reasons: string[] = [];
  failures = 0;

  record(status: number, body: string): void {
    const label = status === 0 ? "no answer" : status === SENT ? "sent" : String(status);
    this.statuses[label] = (this.statuses[label] ?? 0) + 1;
    if (status === SENT || (status >= 200 && status < 300)) return;
    this.failures++;
    const reason = `${status || "no answer"}: ${body.slice(0, 200)}`;
    if (this.reasons.length < 5 && !this.reasons.includes(reason)) this.reasons.push(reason);
  }
}

/**
 * Asked after each write: once `limits` writes were sent or `limits.ms` passed, it decides once
 * whether to stop, which it does when none of them reached any client (and writes are left).
 */
function earlyStop(limits: { writes: number; ms: number }, total: number) {
  let decided = false;
  return (writes: number, elapsedMs: number, delivered: number): ProbeResult["stoppedEarly"] => {
    if (decided || (writes < limits.writes && elapsedMs < limits.ms)) return undefined;
    decided = true;
    return delivered === 0 && writes < total ? { afterWrites: writes, afterMs: Math.round(elapsedMs) } : undefined;
  };
}

async function publish(options: ProbeOptions, text: string, contentType: string, writer: PartySocket, key: string): Promise<{ status: number; body: string }> {
  if (options.publish.kind === "socket") {
    if (writer.readyState !== 1) return { status: 0, body: "the writer's socket was not open" };
    writer.send(text);
    return { status: SENT, body: "" };
  }
  const writerId = writer.id;
  const party = options.publish.kind === "write" ? options.party : options.publish.party;
  const headers: Record<string, string> = { "content-type": contentType, "idempotency-key": randomUUID() };
  if (options.publish.kind === "write") Object.assign(headers, { "x-party-shard-connection": encodeURIComponent(writerId), "x-party-shard-key": key });
  try {
    const response = await fetch(`http://${options.host}/parties/${party}/${options.room}`, { method: "POST", headers, body: text });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { status: 0, body: error instanceof Error ? error.message : String(error) };
  }
}

/** The router's view of a room: connections per shard. */
export async function readShardLoad(host: string, router: string, room: string, viewToken = ""): Promise<number[] | undefined> {
  try {
    const view = (await (await fetch(`http://${host}/parties/${router}/${room}`, { headers: { [VIEW_TOKEN_HEADER]: viewToken } })).json()) as { load?: unknown };
    return Array.isArray(view.load) && view.load.every((n) => typeof n === "number") ? (view.load as number[]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The shards' counts once they add up to the probe's `clients`, or as they are after 3 s: a
 * shard reports its count at most every 50 ms (src/runtime/shard-load.ts), so the view right
 * after the last socket opened may not have it yet.
 */
async function settledShardLoad(host: string, router: string, room: string, viewToken: string | undefined, clients: number): Promise<number[] | undefined> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const load = await readShardLoad(host, router, room, viewToken);
    if (!load || load.reduce((sum, n) => sum + n, 0) >= clients || Date.now() > deadline) return load;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function opened(socket: PartySocket, timeoutMs: number): Promise<void> {
  if (socket.readyState === 1) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`a client could not connect to ${socket.url} within ${timeoutMs} ms`)), timeoutMs);
    // A probe stopped while connecting must not be kept alive by it; a connecting socket keeps the process up anyway.
    timer.unref();
    socket.addEventListener("open", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

/**
 * Waits `ms`, or less if `signal` is aborted or `until` settles meanwhile (the caller checks
 * which). The timer and the abort listener go as soon as it ends: one probe waits thousands
 * of times on the same signal.
 */
function delay(ms: number, signal?: AbortSignal, until?: Promise<void>): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
    void until?.then(done, done);
  });
}

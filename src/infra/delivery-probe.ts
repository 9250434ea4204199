import { randomUUID } from "node:crypto";
import { PartySocket } from "partysocket";
import WebSocket from "ws";
import { VIEW_TOKEN_HEADER } from "./dev-process.js";
import { DEFAULT_PAYLOAD, fillPayload, isJson } from "./probe-payload.js";
import { whenAborted } from "./signals.js";

/**
 * How probe messages are sent:
 *  - `write`: as a client's own message, the way migrated clients write: POST to the router
 *    with the writer's connection id and key, so the party's onMessage runs with it as sender;
 *  - `request`: a plain HTTP POST to `/parties/<party>/<room>`, which the party's onRequest answers.
 */
export type PublishMode = { kind: "write" } | { kind: "request"; party: string };


export interface ProbeOptions {
  /** `host:port` of the dev server (partykit dev or wrangler dev). */
  host: string;
  /** Where clients connect: `/parties/<party>/<room>` (on PartyServer, a binding's kebab-case name). */
  party: string;
  room: string;
  publish: PublishMode;
  /** The message, with `{id}` where its token goes (default: DEFAULT_PAYLOAD). */
  payload?: string;
  clients: number;
  messages: number;
  /** How long to wait for a message after its POST answered, before counting it lost. */
  graceMs?: number;
  connectTimeoutMs?: number;
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
  /** Clients that counted receipts: every client but the writer in `write` mode. */
  listeners: number;
  messages: number;
  /** Receipts that arrived, over listeners × messages. */
  deliveryRatio: number;
  lost: number;
  duplicates: number;
  publishFailures: number;
  /** Up to five distinct answers of failed publishes, as `status: body`. */
  failureReasons: string[];
  /** POST sent → the last listener received it, for messages every listener got; null when none did. */
  latencyMs: { p50: number | null; p99: number | null };
  /** Connections per shard as the router saw them with every client connected. */
  shardLoad?: number[];
}

const WRITER = 0;
const KEY_PARAM = "_psk";

/**
 * Connects real partysocket clients, publishes one message at a time and counts what each
 * client receives. Latency is measured per message, without queueing behind others.
 */
export async function runDeliveryProbe(options: ProbeOptions): Promise<ProbeResult> {
  options.signal?.throwIfAborted();
  const probe = randomUUID().slice(0, 8);
  const key = randomUUID();
  const graceMs = options.graceMs ?? 1_000;
  const listeners = options.publish.kind === "write" ? options.clients - 1 : options.clients;
  const counts = (client: number) => options.publish.kind !== "write" || client !== WRITER;
  const receipts = Array.from({ length: options.messages }, () => new Map<number, number>());
  let duplicates = 0;
  let waiting: { seq: number; wake: () => void } | undefined;
  // A token, not JSON of ours: it survives a party that wraps or re-encodes what it broadcasts.
  const tokenPattern = new RegExp(`party-shard-probe:${probe}:(\\d+)`);
  const template = options.payload ?? DEFAULT_PAYLOAD;
  // Every message has the template's shape, so its content type is decided once.
  const contentType = isJson(fillPayload(template, `party-shard-probe:${probe}:0`)) ? "application/json" : "text/plain;charset=UTF-8";

  const sockets = Array.from({ length: options.clients }, (_, client) => {
    const socket = new PartySocket({
      host: options.host,
      party: options.party,
      room: options.room,
      id: `${probe}-${client}`,
      query: client === WRITER ? { [KEY_PARAM]: key } : {},
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    socket.addEventListener("message", (event: MessageEvent) => {
      const seq = Number(tokenPattern.exec(typeof event.data === "string" ? event.data : "")?.[1] ?? Number.NaN);
      const got = receipts[seq];
      if (!got || !counts(client)) return;
      if (got.has(client)) duplicates++;
      else got.set(client, performance.now());
      if (waiting?.seq === seq && got.size === listeners) waiting.wake();
    });
    return socket;
  });

  // Rejects once the probe is stopped from outside; never settles otherwise.
  const stopped = options.signal ? whenAborted(options.signal) : new Promise<never>(() => undefined);
  try {
    await Promise.race([Promise.all(sockets.map((socket) => opened(socket, options.connectTimeoutMs ?? 15_000))), stopped]);
    const shardLoad = options.router ? await readShardLoad(options.host, options.router, options.room, options.viewToken) : undefined;
    const failures: string[] = [];
    let publishFailures = 0;
    const latencies: number[] = [];
    for (let seq = 0; seq < options.messages; seq++) {
      options.signal?.throwIfAborted();
      const allArrived = new Promise<void>((wake) => {
        waiting = { seq, wake };
      });
      const sentAt = performance.now();
      const token = `party-shard-probe:${probe}:${seq}`;
      const { status, body } = await publish(options, fillPayload(template, token), contentType, sockets[WRITER]!.id, key);
      if (status < 200 || status >= 300) {
        publishFailures++;
        const reason = `${status || "no answer"}: ${body.slice(0, 200)}`;
        if (failures.length < 5 && !failures.includes(reason)) failures.push(reason);
      }
      options.onPublished?.(seq, status, body);
      await delay(graceMs, options.signal, allArrived);
      const got = receipts[seq]!;
      if (got.size === listeners) latencies.push(Math.max(...got.values()) - sentAt);
      options.onProgress?.(seq + 1);
    }
    await delay(200, options.signal); // late duplicates still count
    options.signal?.throwIfAborted();
    const delivered = receipts.reduce((sum, got) => sum + got.size, 0);
    const expected = listeners * options.messages;
    return {
      listeners,
      messages: options.messages,
      deliveryRatio: delivered / expected,
      lost: expected - delivered,
      duplicates,
      publishFailures,
      failureReasons: failures,
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
      shardLoad,
    };
  } finally {
    for (const socket of sockets) socket.close();
  }
}

async function publish(options: ProbeOptions, text: string, contentType: string, writerId: string, key: string): Promise<{ status: number; body: string }> {
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

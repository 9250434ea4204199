import { randomUUID } from "node:crypto";
import { PartySocket } from "partysocket";
import WebSocket from "ws";

export interface ProbeOptions {
  /** `host:port` of the PartyKit server. */
  host: string;
  /** Where clients connect: `/parties/<party>/<room>`. */
  party: string;
  room: string;
  /** Where messages are POSTed; defaults to the same party and room. */
  publishParty?: string;
  clients: number;
  messages: number;
  /** How long to wait for a message after its POST answered, before counting it lost. */
  graceMs?: number;
  connectTimeoutMs?: number;
  onProgress?: (sent: number) => void;
  /** Sees each publish's answer, e.g. the router's per-shard report. */
  onPublished?: (seq: number, status: number, body: string) => void;
}

export interface ProbeResult {
  clients: number;
  messages: number;
  /** Receipts that arrived, over clients × messages. */
  deliveryRatio: number;
  lost: number;
  duplicates: number;
  publishFailures: number;
  /** POST sent → the last client received it, for messages every client got. */
  latencyMs: { p50: number; p99: number };
  /** Clients per shard room, from the `{ type: "welcome", room }` message a probe party sends; empty if none does. */
  clientsPerRoom: Record<string, number>;
}

/** A probe message is a plain token, so it survives a party that wraps or re-encodes what it broadcasts. */
const probeToken = (probe: string, seq: number) => `party-shard-probe:${probe}:${seq}`;

/**
 * Connects real partysocket clients, publishes one message at a time over HTTP and counts
 * what each client receives. Latency is measured per message, without queueing behind others.
 */
export async function runDeliveryProbe(options: ProbeOptions): Promise<ProbeResult> {
  const probe = randomUUID().slice(0, 8);
  const graceMs = options.graceMs ?? 1_000;
  const receipts = Array.from({ length: options.messages }, () => new Map<number, number>());
  let duplicates = 0;
  let waiting: { seq: number; wake: () => void } | undefined;
  const roomOf = new Map<number, string>();
  const tokenPattern = new RegExp(`party-shard-probe:${probe}:(\\d+)`);

  const sockets = Array.from({ length: options.clients }, (_, client) => {
    const socket = new PartySocket({
      host: options.host,
      party: options.party,
      room: options.room,
      id: `${probe}-${client}`,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    });
    socket.addEventListener("message", (event: MessageEvent) => {
      const data = typeof event.data === "string" ? event.data : "";
      const welcome = parse(data);
      if (welcome?.type === "welcome" && typeof welcome.room === "string") roomOf.set(client, welcome.room);
      const seq = Number(tokenPattern.exec(data)?.[1] ?? Number.NaN);
      const got = receipts[seq];
      if (!got) return;
      if (got.has(client)) duplicates++;
      else got.set(client, performance.now());
      if (waiting?.seq === seq && got.size === options.clients) waiting.wake();
    });
    return socket;
  });

  try {
    await Promise.all(sockets.map((socket) => opened(socket, options.connectTimeoutMs ?? 15_000)));
    let publishFailures = 0;
    const latencies: number[] = [];
    const publishUrl = `http://${options.host}/parties/${options.publishParty ?? options.party}/${options.room}`;
    for (let seq = 0; seq < options.messages; seq++) {

      const allArrived = new Promise<void>((wake) => {
        waiting = { seq, wake };
      });
      const sentAt = performance.now();
      const response = await fetch(publishUrl, { method: "POST", body: probeToken(probe, seq) }).catch(() => undefined);
      const answer = (await response?.text()) ?? "";
      if (!response?.ok) publishFailures++;
      options.onPublished?.(seq, response?.status ?? 0, answer);
      await Promise.race([allArrived, delay(graceMs)]);
      const got = receipts[seq]!;
      if (got.size === options.clients) latencies.push(Math.max(...got.values()) - sentAt);
      options.onProgress?.(seq + 1);
    }
    await delay(200); // late duplicates still count
    const delivered = receipts.reduce((sum, got) => sum + got.size, 0);
    const expected = options.clients * options.messages;
    return {
      clients: options.clients,
      messages: options.messages,
      deliveryRatio: delivered / expected,
      lost: expected - delivered,
      duplicates,
      publishFailures,
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
      clientsPerRoom: countRooms(roomOf),
    };
  } finally {
    for (const socket of sockets) socket.close();
  }
}

function opened(socket: PartySocket, timeoutMs: number): Promise<void> {
  if (socket.readyState === 1) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`a client could not connect to ${socket.url} within ${timeoutMs} ms`)), timeoutMs);
    socket.addEventListener("open", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

function parse(data: string): Record<string, unknown> | undefined {
  if (!data.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(data);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function countRooms(roomOf: Map<number, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const room of roomOf.values()) counts[room] = (counts[room] ?? 0) + 1;
  return counts;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Fake platform pieces shared by the sharded run and the reference: a room's storage, and a
 * client's socket as a shard's platform holds it (a hibernated, accepted WebSocket), recording
 * what its client received.
 */
import type { Conn, RoomStorage } from "../../src/runtime/host.js";
import type { Message } from "../../src/runtime/protocol.js";

/** A Durable Object's storage: values are copies (structured clone), list is sorted by key. */
class MemStorage implements RoomStorage {
  readonly map = new Map<string, unknown>();
  async get<T>(key: string): Promise<T | undefined> {
    return structuredClone(this.map.get(key)) as T | undefined;
  }
  async put<T>(key: string, value: T): Promise<void> {
    this.map.set(key, structuredClone(value));
  }
  async delete(keys: string | string[]): Promise<unknown> {
    const list = Array.isArray(keys) ? keys : [keys];
    let deleted = 0;
    for (const key of list) if (this.map.delete(key)) deleted++;
    return Array.isArray(keys) ? deleted : deleted > 0;
  }
  async list<T>(options: { prefix: string }): Promise<Map<string, T>> {
    const keys = [...this.map.keys()].filter((key) => key.startsWith(options.prefix)).sort();
    return new Map(keys.map((key) => [key, structuredClone(this.map.get(key)) as T]));
  }
  /** For comparing two rooms' storage: the party's keys (PartyServer keeps its own, `__ps_name`, in the room's storage too). */
  dump(): string {
    return JSON.stringify([...this.map.entries()].filter(([key]) => !key.startsWith("__ps_")).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

/** A message as its client sees it: text stays text, bytes as hex, anything else as WebIDL's String(). */
function show(message: unknown): string {
  if (message instanceof ArrayBuffer || ArrayBuffer.isView(message)) {
    const bytes = message instanceof ArrayBuffer ? new Uint8Array(message) : new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
    return `bin:${Buffer.from(bytes).toString("hex")}`;
  }
  return String(message);
}

/** A close code workerd's WebSocket.close takes: 1000–4999 but the reserved 1004–1006 and 1015 (anything else throws). */
function validCloseCode(code: number | undefined): boolean {
  return code === undefined || (code >= 1000 && code < 5000 && ![1004, 1005, 1006, 1015].includes(code));
}

interface SocketHooks {
  /** Schedules the platform's close event for this socket on its shard (once). */
  closeEvent(socket: ClientSocket, code: number, reason: string): void;
  /** A deliberately broken platform (the checker's own test): true loses this message. */
  loses(socket: ClientSocket, shown: string): boolean;
  trace(line: string): void;
}

type ClosedBy = "client" | "server" | "restart";

/**
 * A routed write a client made with its socket (sendViaRouter): POSTed through the router to the
 * shard holding the socket, retried under the same idempotency key, one of a socket's writes at a
 * time (client-writes.ts). Its outcome: 200 taken, 410 overtaken by a newer write of its
 * connection, another final status, "gave up" (retries or time ran out), "gone" (its socket
 * closed, or the process restarted, before an answer that ended it); undefined: never sent.
 */
interface RoutedWrite {
  readonly text: string;
  /** Its number among its client's writes (write-memory.ts numbers per key): x-party-shard-seq. */
  readonly seq: number;
  readonly idempotencyKey: string;
  /** When its first attempt left (virtual ms). */
  sentAt?: number;
  attempts: number;
  /** Each attempt's answer as the router would read it: a status, "timeout", or "lost" (the fetch failed: request-drop). */
  readonly answers: (number | "timeout" | "lost")[];
  outcome?: number | "gave up" | "gone";
}

/**
 * One client socket, on one shard. `readyState` is the server side's (the platform's
 * WebSocket); `clientOpen` is what its client sees. The platform lists it (getConnections)
 * only while OPEN, as both platforms' hibernating connection lists do.
 */
class ClientSocket implements Conn {
  readonly uri: string;
  readyState = 1;
  clientOpen = true;
  /** Who closed it first: the client (the test asked), the runtime, or a process restart. */
  closedFirstBy: ClosedBy | undefined;
  closeCode: number | undefined;
  /** The server called close(): send throws from then on, as workerd's does. */
  serverClosed = false;
  /** The code the runtime closed it with, whoever closed first. */
  serverCloseCode: number | undefined;
  closeEventDue = false;
  /** It existed when the process restarted: the leader may never have heard the rest of its story. */
  restartHit = false;
  /** The client → shard direction is FIFO: when the last event the client sent arrives. */
  lastArrival = 0;
  readonly received: string[] = [];
  readonly sent: string[] = [];
  /** When the client sent each of `sent` (virtual ms). */
  readonly sentAt: number[] = [];
  /** When the client saw its socket open: its shard's onConnect returned (the platform's 101). */
  openedAt: number | undefined;
  /** Said before it opened: a WebSocket sends nothing before its 101, so (as partysocket does) these go once it opens; never, if it closes first. */
  readonly unsent: string[] = [];
  /** Its routed writes, in the order it made them; those from `writeNext` on wait their turn (one on its way at a time: `writing`). */
  readonly writes: RoutedWrite[] = [];
  writeNext = 0;
  writing = false;
  private attachment: unknown = null;

  constructor(
    /** `<id>.<n>`: the n-th socket of client `id`. */
    readonly name: string,
    readonly id: string,
    readonly key: string,
    readonly shard: number,
    private readonly hooks: SocketHooks,
  ) {
    this.uri = `http://sim.test/parties/party-shard-router/room!shard-${shard}?_pk=${id}`;
  }

  /** Hibernated: the platform keeps a connection's state as a serialized attachment. */
  get state(): unknown {
    return structuredClone(this.attachment);
  }
  setState(state: unknown): unknown {
    this.attachment = structuredClone(state ?? null);
    return state;
  }
  send(message: Message): void {
    if (this.serverClosed) throw new TypeError("Can't call WebSocket send() after close().");
    // The client closed its end: what the server still sends is lost.
    if (!this.clientOpen) return;
    const shown = show(message);
    if (this.hooks.loses(this, shown)) return;
    this.received.push(shown);
    this.hooks.trace(`${this.name} got ${shown}`);
  }
  close(code?: number, reason?: string): void {
    if (!validCloseCode(code)) throw new TypeError(`Invalid WebSocket close code: ${code}.`);
    if (this.serverClosed || this.readyState === 3) return;
    this.readyState = 2;
    this.serverClosed = true;
    this.serverCloseCode = code ?? 1005;
    this.hooks.trace(`${this.name} closed by its shard ${code ?? 1005} ${reason ?? ""}`);
    if (this.clientOpen) this.endForClient("server", code ?? 1005);
    // The client answers the close; then the platform tells the shard.
    this.hooks.closeEvent(this, code ?? 1005, reason ?? "");
  }

  endForClient(by: ClosedBy, code: number) {
    this.clientOpen = false;
    this.closedFirstBy ??= by;
    this.closeCode ??= code;
  }
}

export { ClientSocket, MemStorage, show };
export type { ClosedBy, RoutedWrite, SocketHooks };

/**
 * The party under test: what real apps do with a room. The same class runs sharded (at the
 * leader, through LeaderCore) and unsharded (the reference); every handler notes what it saw,
 * and those notes are what the two runs are compared by.
 *
 * A client message says which socket sent it and what to do: `<socket>#<n>:<op>[:<arg>]`. A routed
 * write (a client's sendViaRouter, run at the leader as its connection's message) says so, with
 * its writer and its number among that client's writes: `w:<socket>:<seq>#<n>:<op>[:<arg>]`.
 */
import type { Conn, RoomStorage } from "../../src/runtime/host.js";
import type { Message } from "../../src/runtime/protocol.js";
import { show } from "./fakes.js";

/** Carries the socket's name from the client to onConnect (a shard forwards the client's headers). */
const SOCKET_HEADER = "x-sim-socket";
const OPS = ["all", "others", "dm", "num", "bool", "bin", "count", "state", "each"] as const;
type Op = (typeof OPS)[number];

/** The room as a party sees it (PartyKit's Room, the part used here). */
interface PartyRoom {
  readonly storage: RoomStorage;
  broadcast(message: Message, without?: string[]): void;
  getConnection(id: string): Conn | undefined;
  getConnections(): Iterable<Conn>;
}

/** One handler call, as the party saw it when it started (and, in `read`, a counter it read later). */
interface Observation {
  h: "connect" | "message" | "close" | "restart";
  id: string;
  /**
   * The socket (connect: from its header; message: from its text; routed write: the socket of
   * the connection it ran as, from the state its onConnect set, as its writer may have left).
   */
  sock?: string;
  /** A routed write: the socket that made it (its text says so). */
  writer?: string;
  /** The handler started while this many read-modify-writes of other handlers awaited storage: never, unsharded (the reference has none). */
  gate?: number;
  uri?: string | null;
  data?: string;
  code?: number;
  reason?: string;
  state?: unknown;
  conns?: string[];
  read?: number;
}

class TestParty {
  /** Handlers suspended in a read-modify-write (between its storage calls). */
  private storageCalls = 0;

  constructor(
    private readonly room: PartyRoom,
    private readonly note: (observation: Observation) => void,
    /**
     * Whether handlers await storage mid-way (read-modify-write counters, replies after them).
     * Off, they write storage without awaiting, one key per event: nothing depends on the order
     * in which handlers released together resume.
     */
    private readonly awaits = true,
  ) {}

  async onConnect(conn: Conn, ctx: { request: Request }) {
    const sock = ctx.request.headers.get(SOCKET_HEADER) ?? "?";
    const seen = this.observe({ h: "connect", id: conn.id, sock, uri: conn.uri }, conn);
    conn.setState({ sock, said: 0 });
    conn.send(`welcome ${conn.id}`);
    this.room.broadcast(`join ${conn.id}`, [conn.id]);
    seen.read = await this.bump("joins", sock);
  }

  async onMessage(conn: Conn, message: string | ArrayBuffer) {
    const data = show(message);
    const writer = writerOf(data);
    const sock = writer === undefined ? data.split("#")[0] : ((conn.state as { sock?: string } | null)?.sock ?? writer);
    const seen = this.observe({ h: "message", id: conn.id, sock, data, ...(writer === undefined ? {} : { writer }) }, conn);
    const [, n = "0", op = "all", arg = ""] = /^[^#]*#(\d+):(\w+):?(.*)$/.exec(data) ?? [];
    const k = Number(n);
    switch (op as Op) {
      case "all":
        return this.room.broadcast(`${conn.id} says ${k}`);
      case "others":
        return this.room.broadcast(`${conn.id} tells the others ${k}`, [conn.id]);
      case "dm": {
        const to = this.room.getConnection(arg);
        return to ? to.send(`${conn.id} to ${arg}: ${k}`) : conn.send(`no ${arg}`);
      }
      case "num":
        // What apps do in JavaScript: a number goes as its text.
        conn.send(k as never);
        return this.room.broadcast((k * 10) as never, [conn.id]);
      case "bool":
        return conn.send((k % 2 === 0) as never);
      case "bin":
        conn.send(new Uint8Array([k & 255, 0, 255]));
        return this.room.broadcast(new Uint8Array([7, k & 255]).buffer);
      case "count":
        seen.read = await this.bump("count", n);
        return conn.send(`count ${seen.read ?? "kept"}`);
      case "state": {
        conn.setState({ ...(conn.state as object), said: k });
        return conn.send(`state ${JSON.stringify(conn.state)}`);
      }
      case "each":
        for (const other of this.room.getConnections()) other.send(`each ${conn.id} ${k} to ${other.id}`);
        return;
    }
  }

  async onClose(conn: Conn, code: number, reason: string) {
    const seen = this.observe({ h: "close", id: conn.id, code, reason }, conn);
    this.room.broadcast(`leave ${conn.id}`);
    seen.read = await this.bump(`left:${conn.id}`, String(code));
  }

  /** A read-modify-write of a counter, as apps write them (or, without awaits, a record of the event). */
  private async bump(key: string, event: string): Promise<number | undefined> {
    if (!this.awaits) return void this.room.storage.put(`${key}:${event}`, true);
    this.storageCalls++;
    try {
      const next = ((await this.room.storage.get<number>(key)) ?? 0) + 1;
      await this.room.storage.put(key, next);
      return next;
    } finally {
      this.storageCalls--;
    }
  }

  private observe(observation: Observation, conn: Conn): Observation {
    observation.state = structuredClone(conn.state ?? null);
    observation.conns = [...this.room.getConnections()].map((c) => c.id).sort();
    // A Durable Object takes no event while a storage call is in flight, and the leader hands the
    // party no relayed frame then (input-gate.ts): noted, so the observation differs from the reference's.
    if (this.storageCalls > 0) observation.gate = this.storageCalls;
    this.note(observation);
    return observation;
  }
}

/** A routed write's writer (`w:<socket>:<seq>#…`), or undefined for a message its socket sent. */
function writerOf(data: string): string | undefined {
  return /^w:([^:#]+):\d+#/.exec(data)?.[1];
}

export { OPS, SOCKET_HEADER, TestParty };
export type { Observation, Op, PartyRoom };

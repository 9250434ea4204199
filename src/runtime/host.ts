/**
 * What the runtime needs of its platform. PartyKit and PartyServer each implement these for
 * their rooms (partykit.ts, partyserver.ts); the simulator implements them with fake rooms, so
 * the leader, shard and router code it runs is the code users run.
 */
import type { Message } from "./protocol.js";

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
  /** Where the platform lets a socket choose (workerd): how binary messages arrive. */
  binaryType?: string;
  send(message: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: MessageEvent) => void): void;
  addEventListener(type: "close" | "error", listener: () => void): void;
}
/** The leader's end of a link, with the id the shard gave it. */
interface LinkEnd {
  readonly id: string;
  readonly readyState: number;
  send(message: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}
/** A request to another room: `path` below the room (with its query), "" for the room itself. */
type RoomFetch = (path: string, init: { method: string; headers?: HeadersInit; body?: ArrayBuffer | string | ReadableStream<Uint8Array> }) => Promise<Response>;
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
  /**
   * The room's own client sockets, never links. Hosts give arrays, and the runtime iterates no
   * Map, Set or generator with for…of or spread: vendored into a project whose tsconfig has
   * `target: "es5"` (Next.js), that would need `downlevelIteration`.
   */
  directConnections(tag?: string): Conn[];
  directConnection(id: string): Conn | undefined;
  /** The links shards opened to this room. */
  links(): LinkEnd[];
  link(id: string): LinkEnd | undefined;
  /** A room of the router's party (a shard, to wake it). */
  routerRoom(room: string): RoomFetch;
  /** Resolves once the room has started (the party's onStart ran), where the platform does not ensure it first. */
  ready?(): Promise<void>;
}
/** A shard's room, as its platform gives it. */
interface ShardHost {
  /** The sharded party's name, as clients put it in a URL. */
  readonly party: string;
  readonly storage: RoomStorage;
  connections(tag?: string): Conn[];
  /** Opens a WebSocket to the leader's room at `path` (its query carries the link's id). */
  openLink(leaderRoom: string, path: string, headers: Record<string, string>): Promise<LinkSocket>;
  routerRoom(room: string): RoomFetch;
  /** A room of the sharded party: the leader, for the writes a shard forwards (shard-writes.ts). */
  leaderRoom(room: string): RoomFetch;
}

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
  /** How many shards the router has; undefined from a router generated before it said so (its room then places each socket). */
  readonly shards: number | undefined;
  /** Clients a shard takes before placement opens the next (shard-choice.ts); undefined from a router generated before it said so (every shard in use). */
  readonly shardTarget?: number | undefined;
  /** Keeps work going after the answer, where the platform offers it (PartyKit's ctx.waitUntil). */
  waitUntil?(promise: Promise<unknown>): void;
  /** The deploy's PARTY_SHARD_VIEW_TOKEN variable (unset: the load view is nobody's). */
  readonly viewToken: unknown;
}

export type { Conn, Edge, LeaderHost, LinkEnd, LinkSocket, PartyCalls, RoomFetch, RoomStorage, ShardHost };

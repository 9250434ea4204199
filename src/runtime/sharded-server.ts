/**
 * The leader on PartyServer: `shardedServer(Base)` puts the runtime between a class and its
 * PartyServer base, so that its room leads its shards; `Sharded` is `shardedServer(Server)`, the
 * base `migrate` gives a class that extended `Server`. A class that extends another library's
 * Server subclass keeps that class's behaviour: `class Doc extends shardedServer(YServer)` runs
 * y-partyserver's onStart, onConnect and onMessage once, here, for clients on every shard.
 *
 * Invariants:
 * - the base's own members are reached through `super` only, never through partyserver's
 *   Server.prototype: a base built on its own copy of Server (y-partyserver 1.0.0 bundles one)
 *   keeps its private fields;
 * - connections, getConnection(s) and broadcast span every shard; the base's methods that call
 *   them (this.getConnections() in a Yjs update) do too;
 * - a link is accepted only with a ticket a shard got by RPC (partyShardTicket), never as a
 *   request from the internet.
 */
import { Server, type Connection, type WSMessage } from "partyserver";
import type { LeaderHost, LinkEnd, PartyCalls, RoomFetch } from "./host.js";
import { LeaderCore } from "./leader.js";
import { HEADER, asDirect, isLink, type Message } from "./protocol.js";
import { routerRoomOf, stubOf } from "./router-rpc.js";
import { Tickets } from "./tickets.js";

/** routePartykitRequest sets it on everything it forwards from the internet; our own stubs never do. */
const EDGE_HEADER = "x-partykit-namespace";
/** With hibernation, the platform lists the links by this tag. */
const LINK_TAG = "party-shard-link";
/** Where routePartykitRequest puts the Worker's `props` for the room's onStart. */
const PROPS_HEADER = "x-partykit-props";

/** What shardedServer accepts: partyserver's Server or a class built on it (YServer, withYjs(Server)). */
type ServerClass = new (...args: any[]) => Server;

/** What the runtime adds to the class, besides taking over its Server members. */
interface ShardedMembers {
  /** Asked by a shard (RPC) before it links: a ticket its link's handshake must carry. */
  partyShardTicket(): string;
  /** Asked by the placement room (RPC) for its load view: what the leader sent and did. */
  partyShardStats(): Promise<unknown>;
}

/**
 * The class `base` with the runtime between it and the sharded class: `class Doc extends
 * shardedServer(YServer)<Env>`. Your handlers and the base's stay as they are; connections,
 * getConnection(s) and broadcast span every shard.
 *
 * @example
 * export class Document extends shardedServer(YServer)<Env> {
 *   async onLoad() { … }
 * }
 */
function shardedServer<Base extends ServerClass>(base: Base): Base & (new (...args: any[]) => ShardedMembers) {
  class ShardedServer extends base {
    private readonly partyShardCore: LeaderCore;
    /** Links of a leader that does not hibernate; a hibernating one finds them by LINK_TAG. */
    private readonly partyShardLinks = new Map<string, WebSocket>();
    /** Link tickets handed to shards (partyShardTicket), each good once, until it expires. */
    private readonly partyShardTickets = new Tickets(256);
    private readonly partyShardHibernates: boolean;

    // A mixin's constructor takes what its base takes: (ctx, env) for a Durable Object.
    constructor(...args: any[]) {
      super(...args);
      this.partyShardHibernates = hibernates(new.target);
      this.partyShardCore = new LeaderCore(this.partyShardLeaderHost(), this.partyShardPartyCalls());
      gateStorage(this, this.partyShardCore);
      // PartyServer calls onStart once, first, with every other event held. The shards are asked
      // who is connected then (a leader woken from hibernation has its links, not its clients);
      // their answers are taken as soon as onStart ends. Only the first time: PartyServer calls an
      // onStart that threw again for each event, and asking the shards each time made their
      // resent frames such events, a loop that kept the room's process busy.
      const own = this.onStart;
      let asked = false;
      this.onStart = (props?: Record<string, unknown>) => {
        if (!asked) void this.partyShardCore.start();
        asked = true;
        return own.call(this, props);
      };
    }

    override async fetch(request: Request): Promise<Response> {
      const id = new URL(request.url).searchParams.get("_pk");
      // A link is accepted only with a ticket the shard got by RPC, which no HTTP request can
      // make: a Worker route that forwards a client's request here (getServerByName(…).fetch)
      // must not let the client speak for a shard.
      if (id !== null && isLink(id)) return request.headers.has(EDGE_HEADER) ? new Response("Reserved connection id", { status: 400 }) : this.partyShardAcceptLink(request, id);
      await this.partyShardWhole(request.headers.get(PROPS_HEADER));
      // From the router (a routed write, or a room request it forwards) or the runtime; the
      // stats go by RPC (partyShardStats), never over HTTP, where any Worker route may pass them on.
      if (!request.headers.has(EDGE_HEADER) && !request.headers.has(HEADER.stats)) {
        const own = await this.partyShardCore.request(request);
        if (own) return own;
      }
      // The class sees the request as a direct one: without our headers (from the internet, they are anyone's).
      const plain = asDirect(request);
      if (id !== null && plain.headers.get("upgrade")?.toLowerCase() === "websocket") {
        // One socket per id: a direct socket with the id of a client on a shard would get that
        // client's messages (getConnection prefers a direct socket).
        if (this.partyShardCore.onShard(id)) return new Response("Connection id in use", { status: 409 });
      }
      return super.fetch(plain);
    }

    /** Asked by a shard (RPC) before it links: a ticket its link's handshake must carry. */
    partyShardTicket(): string {
      return this.partyShardTickets.issue();
    }

    /** Asked by the placement room (RPC) for its load view: what the leader sent and did. */
    async partyShardStats(): Promise<unknown> {
      const res = await this.partyShardCore.request(new Request("http://party-shard/", { headers: { [HEADER.stats]: "1" } }));
      return res?.json();
    }

    override async webSocketMessage(ws: WebSocket, message: WSMessage): Promise<void> {
      const link = linkOf(ws);
      if (link !== undefined) return this.partyShardCore.onLinkFrame(link, message);
      await this.partyShardWhole();
      return super.webSocketMessage(ws, message);
    }

    override async webSocketClose(ws: WebSocket, code: number, reason: string, wasClean: boolean): Promise<void> {
      const link = linkOf(ws);
      if (link === undefined) {
        await this.partyShardWhole();
        return super.webSocketClose(ws, code, reason, wasClean);
      }
      this.partyShardCore.onLinkClose(link);
      closeQuietly(ws, code, reason);
    }

    override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
      // A link's error is followed by its close, where the shard's state is kept.
      if (linkOf(ws) !== undefined) return;
      await this.partyShardWhole();
      return super.webSocketError(ws, error);
    }

    override async alarm(): Promise<void> {
      await this.partyShardWhole();
      return super.alarm();
    }

    /**
     * Started, and told by its shards who is connected (at most RESYNC_TIMEOUT_MS): what the class
     * does next (a broadcast, getConnections) spans every shard, also right after a wake.
     */
    private async partyShardWhole(propsHeader: string | null = null): Promise<void> {
      try {
        // The props routePartykitRequest sent start the room, as they would in Server.fetch.
        const props = propsHeader === null ? undefined : decodeProps(propsHeader);
        await (props === undefined ? this.__unsafe_ensureInitialized() : this.setName(this.name, props as Record<string, unknown>));
      } catch {
        // A room that fails to start: PartyServer answers that on the event's own path.
        return;
      }
      await this.partyShardCore.heardShards();
    }

    override getConnection<TState = unknown>(id: string): Connection<TState> | undefined {
      return this.partyShardCore.connection(id) as Connection<TState> | undefined;
    }

    override getConnections<TState = unknown>(tag?: string): Iterable<Connection<TState>> {
      return this.partyShardCore.connections(tag) as Iterable<Connection<TState>>;
    }

    override broadcast(msg: string | ArrayBuffer | ArrayBufferView, without?: string[]): void {
      this.partyShardCore.broadcast(msg, without ?? []);
    }

    /** A shard's link: accepted beside PartyServer's connections, never one of them. */
    private partyShardAcceptLink(request: Request, id: string): Response {
      const ticketed = this.partyShardTickets.take(request.headers.get(HEADER.ticket));
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !request.headers.has(HEADER.link) || !ticketed) {
        return new Response("Not a link", { status: 403 });
      }
      const { 0: client, 1: server } = new WebSocketPair();
      if (this.partyShardHibernates) {
        // Without PartyServer's own attachment the base class skips it; webSocketMessage above takes it.
        this.ctx.acceptWebSocket(server, [LINK_TAG, id]);
        server.serializeAttachment({ partyShardLink: id });
      } else {
        // As the class accepts its sockets: an accepted link keeps this leader in memory.
        server.accept();
        // Binary frames as ArrayBuffers (workerd's default is Blob), as on the shard's end.
        server.binaryType = "arraybuffer";
        this.partyShardLinks.set(id, server);
        const end = linkEnd(id, server);
        server.addEventListener("message", (event) => void this.partyShardCore.onLinkFrame(end, event.data as Message));
        const closed = () => {
          if (this.partyShardLinks.get(id) !== server) return;
          this.partyShardLinks.delete(id);
          this.partyShardCore.onLinkClose(end);
        };
        server.addEventListener("close", closed);
        server.addEventListener("error", closed);
      }
      return new Response(null, { status: 101, webSocket: client });
    }

    private partyShardLeaderHost(): LeaderHost {
      const server = this;
      const ctx = this.ctx;
      return {
        get id() {
          return server.name;
        },
        get env() {
          return server.env as Record<string, unknown>;
        },
        hibernates: this.partyShardHibernates,
        directConnections: (tag) => Array.from(super.getConnections(tag)),
        directConnection: (id) => (isLink(id) ? undefined : super.getConnection(id)),
        links: () => (this.partyShardHibernates ? ctx.getWebSockets(LINK_TAG).flatMap((ws) => linkOf(ws) ?? []) : Array.from(this.partyShardLinks, ([id, ws]) => linkEnd(id, ws))),
        link: (id) => {
          if (!this.partyShardHibernates) return this.partyShardLinks.has(id) ? linkEnd(id, this.partyShardLinks.get(id)!) : undefined;
          return ctx.getWebSockets(id).flatMap((ws) => linkOf(ws) ?? [])[0];
        },
        routerRoom: (name) => routerRoomOf(this.env, name),
        // A link's frame can be the first event after an eviction: PartyServer starts the room
        // (your onStart) only for its own events.
        ready: () => this.__unsafe_ensureInitialized(),
      };
    }

    /** Your handlers, in PartyServer's order; the core calls them for clients on shards. */
    private partyShardPartyCalls(): PartyCalls {
      return {
        tags: (conn, ctx) => this.getConnectionTags(conn as Connection, ctx),
        connect: (conn, ctx) => this.onConnect(conn as Connection, ctx),
        message: (conn, message) => this.onMessage(conn as Connection, message),
        close: (conn, code, reason, wasClean) => this.onClose(conn as Connection, code, reason, wasClean),
        error: (conn, error) => this.onError(conn as Connection, error),
      };
    }
  }

  return ShardedServer;
}

/**
 * The base class of the sharded class, in place of `Server`: `class Chat extends Sharded<Env>`.
 * Your handlers stay as they are; connections, getConnection(s) and broadcast span every shard.
 */
const Sharded = shardedServer(Server);

/** Props as routePartykitRequest sends them: base64 of UTF-8 JSON, or (older versions) JSON. */
function decodeProps(header: string): unknown {
  const text = header.trim();
  if (text.startsWith("{") || text.startsWith("[")) return JSON.parse(text);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(text), (char) => char.charCodeAt(0))));
}

/**
 * The class's `this.ctx.storage`, gated (input-gate.ts): relayed frames reach it only while none
 * of its storage calls is in flight, as events do. Every other member of ctx is the platform's own.
 */
function gateStorage(server: Server, core: LeaderCore) {
  const self = server as unknown as { ctx: DurableObjectState };
  const ctx = self.ctx;
  const storage = core.gate.storage(ctx.storage);
  const gated = new Proxy(ctx, {
    get: (target, key) => {
      if (key === "storage") return storage;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  try {
    Object.defineProperty(self, "ctx", { value: gated, configurable: true, writable: true });
  } catch (error) {
    console.error("party-shard: this room's storage could not be gated; frames from shards may reach handlers while a storage call is in flight", error);
  }
}

/** Whether the class (or a class it extends) hibernates, as PartyServer decides it. */
function hibernates(serverClass: unknown): boolean {
  for (let current = serverClass as { options?: { hibernate?: boolean } } | null; current; current = Object.getPrototypeOf(current)) {
    if (current.options?.hibernate !== undefined) return current.options.hibernate;
  }
  return false;
}

/** A link accepted with hibernation, by the id kept in its attachment; undefined for any other socket. */
function linkOf(ws: WebSocket): LinkEnd | undefined {
  const attachment = WebSocket.prototype.deserializeAttachment.call(ws) as { partyShardLink?: unknown } | null;
  return typeof attachment?.partyShardLink === "string" ? linkEnd(attachment.partyShardLink, ws) : undefined;
}

function linkEnd(id: string, ws: WebSocket): LinkEnd {
  return {
    id,
    get readyState() {
      return ws.readyState;
    },
    send: (message) => ws.send(message),
    close: (code, reason) => ws.close(code, reason),
  };
}

/** Completes a close the peer began; there is nobody to answer after 1005, 1006 or 1015. */
function closeQuietly(ws: WebSocket, code: number, reason: string) {
  if (code === 1005 || code === 1006 || code === 1015) return;
  try {
    ws.close(code, reason);
  } catch {
    // Already closed.
  }
}

/**
 * A room of a binding, by name. `origin` is the client's, so a request forwarded to the class
 * carries the URL it would have had; internal requests use a placeholder host.
 */
function roomOf(env: unknown, binding: string, party: string, name: string, origin = "http://party-shard"): RoomFetch {
  return (path, init) => stubOf(env, binding, name).fetch(new Request(`${origin}/parties/${party}/${name}${path}`, init));
}

/** The leader's stats as placement asks them (a stats request, answered by RPC: partyShardStats). */
function leaderStatsOf(env: unknown, binding: string, name: string): RoomFetch {
  return async () => Response.json(await (stubOf(env, binding, name) as unknown as ShardedMembers).partyShardStats());
}

export { EDGE_HEADER, Sharded, leaderStatsOf, roomOf, shardedServer };

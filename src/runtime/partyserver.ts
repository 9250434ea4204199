/**
 * The PartyServer host: `Sharded` (the sharded class's base in place of `Server`) makes its room
 * the leader; `ShardRouter` is the router's Durable Object (placement room `<room>`, shards
 * `<room>!shard-<n>`); `routeToShards` is the Worker's routing (`withRouter`, from
 * worker-route.ts, puts it in front of hono-party's middleware). Everything here adapts
 * PartyServer's objects to what leader.ts, shard.ts, placement.ts and edge.ts need (host.ts).
 *
 * No request from the internet reaches a shard or acts as a link: ShardRouter refuses what
 * routePartykitRequest forwards (it marks it with x-partykit-namespace), and the leader accepts a
 * link only with a ticket a shard got by RPC.
 */
import { Server, routePartykitRequest, type Connection, type ConnectionContext, type Lobby, type PartyServerOptions, type WSMessage } from "partyserver";
import { edgeConnect, edgeRequest, json } from "./edge.js";
import type { Edge, LeaderHost, LinkEnd, PartyCalls, RoomFetch, ShardHost } from "./host.js";
import { LeaderCore } from "./leader.js";
import { Placement } from "./placement.js";
import { HEADER, VIEW_TOKEN_VAR, asDirect, headerPairs, isLink, parseShardRoom, type Message } from "./protocol.js";
import { ShardRelay } from "./shard.js";
import { ROUTER_PARTY, routerPath, withRouter } from "./worker-route.js";

/** The router's binding and URL name: the same in every project (init adds the binding). */
const ROUTER_BINDING = "PartyShardRouter";

/** Which class the router shards (its binding), and into how many shards. */
interface RouterConfig {
  binding: string;
  /** The class's URL name, as routePartykitRequest derives it from the binding (`Chat` → `chat`). */
  party: string;
  shards: number;
}

/** routePartykitRequest sets it on everything it forwards from the internet; our own stubs never do. */
const EDGE_HEADER = "x-partykit-namespace";
/** With hibernation, the platform lists the links by this tag. */
const LINK_TAG = "party-shard-link";
/** Where routePartykitRequest puts the Worker's `props` for the room's onStart. */
const PROPS_HEADER = "x-partykit-props";
/** How long a link ticket is good for: a shard asks for one just before it links. */
const TICKET_MS = 10_000;

/**
 * The base class of the sharded class, in place of `Server`: `class Chat extends Sharded<Env>`.
 * Your handlers stay as they are; connections, getConnection(s) and broadcast span every shard.
 */
class Sharded<Env extends Cloudflare.Env = Cloudflare.Env, Props extends Record<string, unknown> = Record<string, unknown>> extends Server<Env, Props> {
  readonly #core: LeaderCore;
  /** Links of a leader that does not hibernate; a hibernating one finds them by LINK_TAG. */
  readonly #links = new Map<string, WebSocket>();
  /** Link tickets handed to shards (partyShardTicket), each good once, until it expires. */
  readonly #tickets = new Map<string, number>();
  readonly #hibernates: boolean;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#hibernates = hibernates(new.target);
    this.#core = new LeaderCore(this.#leaderHost(), this.#partyCalls());
    // PartyServer calls onStart once, first, with every other event held. The shards are asked
    // who is connected then (a leader woken from hibernation has its links, not its clients);
    // their answers are taken as soon as onStart ends. Only the first time: PartyServer calls an
    // onStart that threw again for each event, and asking the shards each time made their
    // resent frames such events, a loop that kept the room's process busy.
    const own = this.onStart;
    let asked = false;
    this.onStart = (props?: Props) => {
      if (!asked) void this.#core.start();
      asked = true;
      return own.call(this, props);
    };
  }

  override async fetch(request: Request): Promise<Response> {
    const id = new URL(request.url).searchParams.get("_pk");
    // A link is accepted only with a ticket the shard got by RPC, which no HTTP request can
    // make: a Worker route that forwards a client's request here (getServerByName(…).fetch)
    // must not let the client speak for a shard.
    if (id !== null && isLink(id)) return request.headers.has(EDGE_HEADER) ? new Response("Reserved connection id", { status: 400 }) : this.#acceptLink(request, id);
    await this.#whole(request.headers.get(PROPS_HEADER));
    if (!request.headers.has(EDGE_HEADER)) {
      // From the router (a routed write, or a room request it forwards) or the runtime.
      const own = await this.#core.request(request);
      if (own) return own;
    }
    // The class sees the request as a direct one: without our headers (from the internet, they are anyone's).
    const plain = asDirect(request);
    if (id !== null && plain.headers.get("upgrade")?.toLowerCase() === "websocket") {
      // One socket per id: a direct socket with the id of a client on a shard would get that
      // client's messages (getConnection prefers a direct socket).
      if (this.#core.onShard(id)) return new Response("Connection id in use", { status: 409 });
    }
    return super.fetch(plain);
  }

  /** Asked by a shard (RPC) before it links: a ticket its link's handshake must carry. */
  partyShardTicket(): string {
    const now = Date.now();
    for (const [ticket, expires] of this.#tickets) if (expires <= now) this.#tickets.delete(ticket);
    const ticket = crypto.randomUUID();
    if (this.#tickets.size < 256) this.#tickets.set(ticket, now + TICKET_MS);
    return ticket;
  }

  override async webSocketMessage(ws: WebSocket, message: WSMessage): Promise<void> {
    const link = linkOf(ws);
    if (link !== undefined) return this.#core.onLinkFrame(link, message);
    await this.#whole();
    return super.webSocketMessage(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string, wasClean: boolean): Promise<void> {
    const link = linkOf(ws);
    if (link === undefined) {
      await this.#whole();
      return super.webSocketClose(ws, code, reason, wasClean);
    }
    this.#core.onLinkClose(link);
    closeQuietly(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    // A link's error is followed by its close, where the shard's state is kept.
    if (linkOf(ws) !== undefined) return;
    await this.#whole();
    return super.webSocketError(ws, error);
  }

  override async alarm(): Promise<void> {
    await this.#whole();
    return super.alarm();
  }

  /**
   * Started, and told by its shards who is connected (at most RESYNC_TIMEOUT_MS): what the class
   * does next (a broadcast, getConnections) spans every shard, also right after a wake.
   */
  async #whole(propsHeader: string | null = null): Promise<void> {
    try {
      // The props routePartykitRequest sent start the room, as they would in Server.fetch.
      const props = propsHeader === null ? undefined : decodeProps(propsHeader);
      await (props === undefined ? this.__unsafe_ensureInitialized() : this.setName(this.name, props as Props));
    } catch {
      // A room that fails to start: PartyServer answers that on the event's own path.
      return;
    }
    await this.#core.heardShards();
  }

  override getConnection<TState = unknown>(id: string): Connection<TState> | undefined {
    return this.#core.connection(id) as Connection<TState> | undefined;
  }

  override getConnections<TState = unknown>(tag?: string): Iterable<Connection<TState>> {
    return this.#core.connections(tag) as Iterable<Connection<TState>>;
  }

  override broadcast(msg: string | ArrayBuffer | ArrayBufferView, without?: string[]): void {
    this.#core.broadcast(msg, without ?? []);
  }

  /** A shard's link: accepted beside PartyServer's connections, never one of them. */
  #acceptLink(request: Request, id: string): Response {
    const ticket = request.headers.get(HEADER.ticket) ?? "";
    const expires = this.#tickets.get(ticket);
    this.#tickets.delete(ticket);
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !request.headers.has(HEADER.link) || expires === undefined || expires <= Date.now()) {
      return new Response("Not a link", { status: 403 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    if (this.#hibernates) {
      // Without PartyServer's own attachment the base class skips it; webSocketMessage above takes it.
      this.ctx.acceptWebSocket(server, [LINK_TAG, id]);
      server.serializeAttachment({ partyShardLink: id });
    } else {
      // As the class accepts its sockets: an accepted link keeps this leader in memory.
      server.accept();
      // Binary frames as ArrayBuffers (workerd's default is Blob), as on the shard's end.
      server.binaryType = "arraybuffer";
      this.#links.set(id, server);
      const end = linkEnd(id, server);
      server.addEventListener("message", (event) => void this.#core.onLinkFrame(end, event.data as Message));
      const closed = () => {
        if (this.#links.get(id) !== server) return;
        this.#links.delete(id);
        this.#core.onLinkClose(end);
      };
      server.addEventListener("close", closed);
      server.addEventListener("error", closed);
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  #leaderHost(): LeaderHost {
    const server = this;
    const ctx = this.ctx;
    return {
      get id() {
        return server.name;
      },
      get env() {
        return server.env as Record<string, unknown>;
      },
      hibernates: this.#hibernates,
      directConnections: (tag) => Server.prototype.getConnections.call(this, tag),
      directConnection: (id) => (isLink(id) ? undefined : Server.prototype.getConnection.call(this, id)),
      links: () => (this.#hibernates ? ctx.getWebSockets(LINK_TAG).flatMap((ws) => linkOf(ws) ?? []) : [...this.#links].map(([id, ws]) => linkEnd(id, ws))),
      link: (id) => {
        if (!this.#hibernates) return this.#links.has(id) ? linkEnd(id, this.#links.get(id)!) : undefined;
        return ctx.getWebSockets(id).flatMap((ws) => linkOf(ws) ?? [])[0];
      },
      routerRoom: (name) => roomOf(this.env, ROUTER_BINDING, ROUTER_PARTY, name),
      // A link's frame can be the first event after an eviction: PartyServer starts the room
      // (your onStart) only for its own events.
      ready: () => this.__unsafe_ensureInitialized(),
    };
  }

  /** Your handlers, in PartyServer's order; the core calls them for clients on shards. */
  #partyCalls(): PartyCalls {
    return {
      tags: (conn, ctx) => this.getConnectionTags(conn as Connection, ctx),
      connect: (conn, ctx) => this.onConnect(conn as Connection, ctx),
      message: (conn, message) => this.onMessage(conn as Connection, message),
      close: (conn, code, reason, wasClean) => this.onClose(conn as Connection, code, reason, wasClean),
      error: (conn, error) => this.onError(conn as Connection, error),
    };
  }
}

/**
 * The router's Durable Object (binding "PartyShardRouter"): the room `<room>` keeps placement,
 * rooms `<room>!shard-<n>` are the shards. Only routePartyShard and the runtime reach it. The
 * project's class extends it with its `config` (which class it shards, into how many shards).
 */
class ShardRouter extends Server<Cloudflare.Env> {
  /** Shards keep their client sockets through hibernation. */
  static override options = { hibernate: true };
  static readonly config: RouterConfig = { binding: "", party: "", shards: 1 };
  readonly #shard: ShardRelay | undefined;
  readonly #placement: Placement | undefined;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    const { binding, party, shards } = (new.target as typeof ShardRouter).config;
    const name = ctx.id.name ?? "";
    const shard = parseShardRoom(name);
    if (shard) {
      const host: ShardHost = {
        party,
        storage: ctx.storage,
        connections: (tag) => this.getConnections(tag),
        openLink: async (leaderRoom, path, headers) => {
          // A ticket first, by RPC: only a Durable Object of this Worker can ask for one.
          const ticket = await (stubOf(env, binding, leaderRoom) as unknown as { partyShardTicket(): Promise<string> }).partyShardTicket();
          const res = await roomOf(env, binding, party, leaderRoom)(path, { method: "GET", headers: { ...headers, [HEADER.ticket]: ticket, upgrade: "websocket" } });
          if (!res.webSocket) throw new Error(`the leader answered ${res.status} to a link`);
          res.webSocket.accept();
          return res.webSocket;
        },
        routerRoom: (room) => roomOf(env, ROUTER_BINDING, ROUTER_PARTY, room),
      };
      this.#shard = new ShardRelay(host, shard.room, shard.shard);
    } else {
      this.#placement = new Placement(name, party, shards, (room) => roomOf(env, ROUTER_BINDING, ROUTER_PARTY, room), roomOf(env, binding, party, name));
    }
  }

  override fetch(request: Request): Promise<Response> {
    // Forwarded from the internet by a routePartykitRequest: shard rooms are ours alone.
    if (request.headers.has(EDGE_HEADER)) return Promise.resolve(json(404, { error: "Not found" }));
    return super.fetch(request);
  }
  override onStart() {
    return this.#placement?.start();
  }
  override onConnect(conn: Connection, ctx: ConnectionContext) {
    if (!this.#shard) return conn.close(1008, "Not a shard");
    return this.#shard.onConnect(conn, ctx);
  }
  override onMessage(conn: Connection, message: WSMessage) {
    this.#shard?.onMessage(conn, message);
  }
  override onClose(conn: Connection, code: number, reason: string) {
    return this.#shard?.onClose(conn, code, reason);
  }
  override onError(conn: Connection, error: unknown) {
    this.#shard?.onError(conn, error instanceof Error ? error : new Error(String(error)));
  }
  override onRequest(req: Request): Response | Promise<Response> {
    return this.#shard ? this.#shard.onRequest(req) : this.#placement!.onRequest(req);
  }
}

/**
 * routePartyShard's work, for the class `config.binding`: `/<prefix>/party-shard-router/<room>`
 * is the router; anything else goes to routePartykitRequest unchanged.
 */
async function routeToShards<Env extends Cloudflare.Env>(config: RouterConfig, request: Request, env: Env, options?: PartyServerOptions<Env>): Promise<Response | null> {
  const { binding, party, shards } = config;
  const url = new URL(request.url);
  const router = routerPath(url.pathname, options?.prefix);
  if (!router) return routePartykitRequest(request, env, options);
  const { room } = router;
  // The core reads paths as /parties/<router>/<room>/…, whatever the prefix.
  url.pathname = router.pathname;
  const req = new Request(url, request);
  // PartyServer's own headers are routePartykitRequest's to set, never a client's: the rooms
  // take x-partykit-namespace to mean "from the internet", and x-partykit-props as the props
  // for onStart (a client's own, sent here with that namespace header, started a room with them).
  for (const [name] of headerPairs(req.headers)) if (name.startsWith("x-partykit-")) req.headers.delete(name);
  const lobby = { className: binding, party, name: room } as Lobby<Env>;
  const edge: Edge = {
    room,
    leader: roomOf(env, binding, party, room, url.origin),
    routerRoom: (name) => roomOf(env, ROUTER_BINDING, ROUTER_PARTY, name, url.origin),
    toShard: (shardRoom, search, headers) => roomOf(env, ROUTER_BINDING, ROUTER_PARTY, shardRoom, url.origin)(search, { method: "GET", headers }),
    // The sharded class's hooks, as routePartykitRequest runs them for a direct request.
    hook: async (kind, hooked) => {
      const hook = kind === "connect" ? options?.onBeforeConnect : options?.onBeforeRequest;
      const result = await hook?.(hooked, lobby);
      return result instanceof Request || result instanceof Response ? result : hooked;
    },
    shards,
    viewToken: (env as Record<string, unknown>)[VIEW_TOKEN_VAR],
  };
  if (req.headers.get("upgrade")?.toLowerCase() === "websocket") return edgeConnect(req, edge);
  const answer = await edgeRequest(req, edge);
  if (answer instanceof Response) return answer;
  // GET and HEAD: the placement room's load view.
  return edge.routerRoom(room)("", { method: answer.method, headers: answer.headers });
}

/** Props as routePartykitRequest sends them: base64 of UTF-8 JSON, or (older versions) JSON. */
function decodeProps(header: string): unknown {
  const text = header.trim();
  if (text.startsWith("{") || text.startsWith("[")) return JSON.parse(text);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(text), (char) => char.charCodeAt(0))));
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

function stubOf(env: unknown, binding: string, name: string): DurableObjectStub {
  const namespace = (env as Record<string, DurableObjectNamespace | undefined>)[binding];
  if (!namespace) throw new Error(`party-shard: env.${binding} is missing: add its Durable Object binding to the wrangler config (npx party-shard init)`);
  return namespace.get(namespace.idFromName(name));
}

export { ShardRouter, Sharded, routeToShards, withRouter };
export type { RouterConfig };

/**
 * The PartyKit host: `sharded(Party)` makes the party's room the leader, and the router party's
 * rooms are placement (`<room>`) and shards (`<room>!shard-<n>`). Everything here adapts
 * PartyKit's rooms, lobbies and connections to what leader.ts, shard.ts, placement.ts and edge.ts
 * need (host.ts); the logic lives there.
 */
import type * as Party from "partykit/server";
import { CORS_HEADERS, edgeConnect, edgeRequest } from "./edge.js";
import type { Edge, LeaderHost, PartyCalls, RoomFetch, ShardHost } from "./host.js";
import { LeaderCore } from "./leader.js";
import { Placement } from "./placement.js";
import { HEADER, LINK_ID_PREFIX, VIEW_TOKEN_VAR, asDirect, isLink, parseShardRoom, stripInternalHeaders, type Message } from "./protocol.js";
import { ShardRelay } from "./shard.js";

/** The names of the sharded party and of its router party, as partykit.json lists them. */
interface Names {
  party: string;
  router: string;
}

type Handler = (...args: never[]) => unknown;
type Handlers = Partial<Record<"onStart" | "onConnect" | "onMessage" | "onClose" | "onError" | "onRequest" | "onAlarm" | "getConnectionTags", Handler>> & {
  options?: Party.ServerOptions;
};
type StaticHook = (req: Party.Request, lobby: Party.Lobby, ctx: Party.ExecutionContext) => unknown;
const STATIC_HOOKS = ["onBeforeConnect", "onBeforeRequest"] as const;
const OTHER_STATICS = ["onFetch", "unstable_onFetch", "onSocket", "onCron"] as const;

/**
 * Wraps a party (a class, or an object of handlers) so its room leads the shards:
 * `export default sharded(Chat);`. Direct connections and requests work as before.
 */
function wrapParty<T>(party: T, names: Names): T {
  const definition = party as unknown as Record<string, unknown> & (new (room: Party.Room) => Handlers);
  const isClass = typeof party === "function" && definition.prototype instanceof Object;

  class Leader {
    readonly options: Party.ServerOptions;
    private readonly core: LeaderCore;
    private readonly party: Handlers;
    /** The party's onStart, once PartyKit began it: relayed frames wait for it (see leaderHost's ready). */
    private starting: Promise<void> | undefined;

    constructor(room: Party.Room) {
      // The core calls the party, which is made after it: its view of the room needs the core.
      const ready = () => this.starting ?? Promise.resolve();
      this.core = new LeaderCore(leaderHost(room, names, () => this.options.hibernate === true, ready), partyCalls(() => this.party));
      this.party = isClass ? bindClass(new definition(roomView(room, this.core))) : bindObject(definition, roomView(room, this.core));
      this.options = this.party.options ?? {};
    }
    // Methods, not fields: PartyKit looks for onRequest on the prototype.
    onStart() {
      this.starting = (async () => {
        await this.core.start();
        await this.party.onStart?.();
      })();
      return this.starting;
    }
    getConnectionTags(conn: Party.Connection, ctx: Party.ConnectionContext) {
      if (isLink(conn.id) || this.core.onShard(conn.id)) return [];
      return this.party.getConnectionTags?.(conn as never, ctx as never) ?? [];
    }
    onConnect(conn: Party.Connection, ctx: Party.ConnectionContext) {
      // A link id is refused at the edge, and the link header dropped: only a shard has both.
      if (isLink(conn.id) && ctx.request.headers.get(HEADER.link) !== null) return;
      // One socket per id, as on PartyServer (409 there): a direct socket with the id of a client
      // on a shard would otherwise get that client's private messages. PartyKit has accepted it
      // already; it is closed, and the party never meets it.
      if (this.core.onShard(conn.id)) return conn.close(1008, "Connection id in use");
      return this.party.onConnect?.(conn as never, ctx as never);
    }
    onMessage(message: Message, conn: Party.Connection) {
      if (isLink(conn.id)) return this.core.onLinkFrame(conn, message);
      if (this.core.onShard(conn.id)) return;
      return this.party.onMessage?.(message as never, conn as never);
    }
    onClose(conn: Party.Connection) {
      if (isLink(conn.id)) return this.core.onLinkClose(conn);
      if (this.core.onShard(conn.id)) return;
      return this.party.onClose?.(conn as never);
    }
    onError(conn: Party.Connection, error: Error) {
      // A link's error is followed by its close, where the shard's state is kept.
      return isLink(conn.id) || this.core.onShard(conn.id) ? undefined : this.party.onError?.(conn as never, error as never);
    }
    async onRequest(req: Party.Request) {
      const own = await this.core.request(req as unknown as Request);
      if (own) return own;
      if (!this.party.onRequest) throw new Error("No onRequest handler");
      return (await this.party.onRequest(asDirect(req as unknown as Request) as never)) as Response;
    }
    onAlarm() {
      return this.party.onAlarm?.();
    }
  }
  for (const name of STATIC_HOOKS) {
    const hook = definition[name] as StaticHook | undefined;
    Object.defineProperty(Leader, name, { value: edgeHook(name, hook?.bind(definition)) });
  }
  for (const name of OTHER_STATICS) {
    if (typeof definition[name] === "function") Object.defineProperty(Leader, name, { value: (definition[name] as Handler).bind(definition) });
  }
  return Leader as unknown as T;
}

/** At the edge, before the party's own hook: our headers are dropped, our ids refused. */
function edgeHook(name: (typeof STATIC_HOOKS)[number], hook: StaticHook | undefined): StaticHook {
  return async (req, lobby, ctx) => {
    stripInternalHeaders(req);
    if (name === "onBeforeConnect" && new URL(req.url).searchParams.get("_pk")?.startsWith(LINK_ID_PREFIX)) {
      return new Response("Reserved connection id", { status: 400 });
    }
    return (await hook?.(req, lobby, ctx)) ?? req;
  };
}

/** A class party's handlers, called as PartyKit calls them. */
function bindClass(instance: Handlers): Handlers {
  const bound: Handlers = { options: instance.options ?? {} };
  for (const name of ["onStart", "onConnect", "onMessage", "onClose", "onError", "onRequest", "onAlarm", "getConnectionTags"] as const) {
    const handler = instance[name];
    if (typeof handler === "function") bound[name] = handler.bind(instance) as Handler;
  }
  return bound;
}

/** An object party's handlers get the room as an extra argument, as PartyKit gives it. */
function bindObject(party: Record<string, unknown>, room: Party.Room): Handlers {
  const call = (name: string, ...args: unknown[]) => (party[name] as (...a: unknown[]) => unknown).apply(party, args);
  const has = (name: string) => typeof party[name] === "function";
  // PartyKit hibernates an object party that has onMessage, or has no onConnect.
  const bound: Handlers = { options: { hibernate: has("onMessage") || !has("onConnect") } };
  if (has("onConnect")) bound.onConnect = ((conn: unknown, ctx: unknown) => call("onConnect", conn, room, ctx)) as Handler;
  if (has("onMessage")) bound.onMessage = ((message: unknown, conn: unknown) => call("onMessage", message, conn, room)) as Handler;
  if (has("onClose")) bound.onClose = ((conn: unknown) => call("onClose", conn, room)) as Handler;
  if (has("onError")) bound.onError = ((conn: unknown, error: unknown) => call("onError", conn, error, room)) as Handler;
  if (has("onRequest")) bound.onRequest = ((req: unknown) => call("onRequest", req, room)) as Handler;
  if (has("onAlarm")) bound.onAlarm = (() => call("onAlarm", room)) as Handler;
  return bound;
}

/** The room as the party sees it: connections and broadcast span every shard. */
function roomView(room: Party.Room, core: LeaderCore): Party.Room {
  const connections = () => new Map(core.connections().map((conn) => [conn.id, conn]));
  return Object.create(room, {
    // Relayed frames reach the party only while none of its storage calls is in flight, as events do.
    storage: { value: core.gate.storage(room.storage) },
    broadcast: { value: (message: Message, without?: string[]) => core.broadcast(message, without ?? []) },
    getConnection: { value: (id: string) => core.connection(id) },
    getConnections: { value: (tag?: string) => core.connections(tag) },
    connections: { get: connections },
  }) as Party.Room;
}

/** The party's handlers in the core's order (the connection first), called as PartyKit calls them. */
function partyCalls(party: () => Handlers): PartyCalls {
  return {
    tags: (conn, ctx) => party().getConnectionTags?.(conn as never, ctx as never),
    connect: (conn, ctx) => party().onConnect?.(conn as never, ctx as never),
    message: (conn, message) => party().onMessage?.(message as never, conn as never),
    close: (conn) => party().onClose?.(conn as never),
    error: (conn, error) => party().onError?.(conn as never, error as never),
  };
}

/** A PartyKit room as the leader's core needs it: links are connections whose id says so. */
function leaderHost(room: Party.Room, names: Names, hibernates: () => boolean, ready: () => Promise<void>): LeaderHost {
  return {
    // Getters: in onAlarm PartyKit hides the room id, and only what reads it fails.
    get id() {
      return room.id;
    },
    get env() {
      return room.env;
    },
    get hibernates() {
      return hibernates();
    },
    directConnections: (tag) => Array.from(room.getConnections(tag)).filter((conn) => !isLink(conn.id)),
    directConnection: (id) => (isLink(id) ? undefined : room.getConnection(id)),
    links: () => Array.from(room.getConnections()).filter((conn) => isLink(conn.id)),
    link: (id) => room.getConnection(id),
    routerRoom: (name) => roomOf(partyNamed(room.context, names.router), name),
    // PartyKit runs a woken room's onStart but does not hold its socket events until it ends,
    // as it holds a direct client's: a relayed frame must not reach the party before it.
    ready,
  };
}

/** A PartyKit room of the router party as a shard's relay needs it. */
function shardHostOf(room: Party.Room, names: Names): ShardHost {
  return {
    party: names.party,
    storage: room.storage,
    connections: (tag) => Array.from(room.getConnections(tag)),
    openLink: (leaderRoom, path, headers) => partyNamed(room.context, names.party).get(leaderRoom).socket(path, { headers }),
    routerRoom: (name) => roomOf(partyNamed(room.context, names.router), name),
    leaderRoom: (name) => roomOf(partyNamed(room.context, names.party), name),
  };
}

/** The router party's placement room `<room>`. */
function placementOf(room: Party.Room, shardCount: number, names: Names, target: number | undefined): Placement {
  return new Placement(room.id, names.party, shardCount, (name) => roomOf(partyNamed(room.context, names.router), name), roomOf(partyNamed(room.context, names.party), room.id), target);
}

type StaticHooks = Partial<Record<(typeof STATIC_HOOKS)[number], StaticHook>>;

/** A room at the edge, as the router's static hooks see it; `party` is the sharded party, for its own hooks. */
function edgeAt(lobby: Party.Lobby, ctx: Party.ExecutionContext, sharded: unknown, names: Names, shards: number | undefined, shardTarget: number | undefined): Edge {
  const hooks = sharded as StaticHooks;
  return {
    room: lobby.id,
    leader: roomOf(partyNamed(lobby, names.party), lobby.id),
    routerRoom: (name) => roomOf(partyNamed(lobby, names.router), name),
    toShard: (shardRoom, search, headers) => partyNamed(lobby, names.router).get(shardRoom).fetch(`/${search}`, { headers }),
    hook: (kind, req) => runHook(sharded, kind === "connect" ? hooks.onBeforeConnect : hooks.onBeforeRequest, req, lobby, ctx),
    shards,
    shardTarget,
    waitUntil: (promise) => ctx.waitUntil(promise),
    viewToken: lobby.env[VIEW_TOKEN_VAR],
  };
}

/** Runs a static hook as PartyKit does: a Response refuses, a Request replaces, nothing keeps. */
async function runHook(party: unknown, hook: StaticHook | undefined, req: Request, lobby: Party.Lobby, ctx: Party.ExecutionContext): Promise<Request | Response> {
  if (!hook) return req;
  try {
    const result = await hook.call(party, req as unknown as Party.Request, lobby, ctx);
    return result instanceof Response || result instanceof Request ? result : req;
  } catch (error) {
    // As PartyKit answers a direct request whose hook threw, with CORS so a browser can read it.
    console.error("party-shard: the party's hook threw", error);
    return new Response(error instanceof Error ? error.message : "Unauthorised", { status: 401, headers: CORS_HEADERS });
  }
}

/** A party of this project, by name: missing means the config lost it. */
function partyNamed(context: { parties: Party.Context["parties"] }, name: string): Party.Context["parties"][string] {
  const found = context.parties[name];
  if (!found) throw new Error(`party-shard: the party "${name}" is missing from partykit.json (npx party-shard init)`);
  return found;
}

/** A room of a party, by name; a fresh stub per request (a broken stub stays broken). */
function roomOf(party: Party.Context["parties"][string], name: string): RoomFetch {
  return (path, init) => {
    const stub = party.get(name);
    return path ? stub.fetch(path, init) : stub.fetch(init);
  };
}

/**
 * The runtime for one project's names: `sharded(Party)` for the party's module, the rest for its
 * router party's module.
 */
function partykitRuntime(names: Names) {
  return {
    /** Wraps a party (a class, or an object of handlers) so its room leads the shards: `export default sharded(Chat);`. */
    sharded: <T>(party: T): T => wrapParty(party, names),
    shardHost: (room: Party.Room): ShardHost => shardHostOf(room, names),
    /** `target`: the router's SHARD_TARGET (a router generated without it keeps every shard in use). */
    placementFor: (room: Party.Room, shardCount: number, target?: number): Placement => placementOf(room, shardCount, names, target),
    /** `shards`: the router's SHARD_COUNT (a router generated without it takes no writes until regenerated); `target`: its SHARD_TARGET. */
    edgeOf: (lobby: Party.Lobby, ctx: Party.ExecutionContext, party: unknown, shards?: number, target?: number): Edge => edgeAt(lobby, ctx, party, names, shards, target),
  };
}

// The router party hands its events to these (router.ts).
export { ShardRelay, edgeConnect, edgeRequest, parseShardRoom, partykitRuntime };
export type { Names, Placement };
// What routers generated by earlier versions of party-shard import from the project's runtime file.
export { BATCH_TYPE, HEADER, HEADER_PREFIX, KEY_PARAM, shardRoomId, stripInternalHeaders } from "./protocol.js";
export { parseBatch, parseSeq } from "./batch.js";
export type { BatchEntry, BatchResult } from "./batch.js";
export type { Edge } from "./host.js";
export type { LoadReport } from "./protocol.js";

/**
 * The PartyServer host: `Sharded` (the sharded class's base in place of `Server`) and
 * `shardedServer(Base)` (the same over a Server subclass such as y-partyserver's YServer), from
 * sharded-server.ts, make its room the leader; `ShardRouter` is the router's Durable Object (placement room `<room>`, shards
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
import type { Edge, ShardHost } from "./host.js";
import { Placement } from "./placement.js";
import { HEADER, VIEW_TOKEN_VAR, headerPairs, parseShardRoom } from "./protocol.js";
import { answerAsked, routerRoomOf, ROUTER_BINDING, stubOf, type Asked, type Answered } from "./router-rpc.js";
import { EDGE_HEADER, Sharded, leaderStatsOf, roomOf, shardedServer } from "./sharded-server.js";
import { ShardRelay } from "./shard.js";
import { Tickets } from "./tickets.js";
import { ROUTER_PARTY, routerPath, withRouter } from "./worker-route.js";

/** Which class the router shards (its binding), into how many shards at most, and how full a shard gets before the next opens. */
interface RouterConfig {
  binding: string;
  /** The class's URL name, as routePartykitRequest derives it from the binding (`Chat` → `chat`). */
  party: string;
  shards: number;
  /** Clients a shard takes before placement opens the next (shard-choice.ts); absent from runtimes generated before: every shard in use. */
  target?: number;
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
  private readonly partyShardRelay: ShardRelay | undefined;
  private readonly partyShardPlacement: Placement | undefined;
  /** A client's socket comes to a shard from the router only, with a ticket it got here by RPC just before. */
  private readonly partyShardAdmissions = new Tickets(4_096);
  /** The room's name, `<room>` or `<room>!shard-<n>`. */
  private readonly partyShardName: string;
  /** Placement's start (it asks each shard for its count), once, whoever comes first: PartyServer or an RPC. */
  private partyShardStarted: Promise<void> | undefined;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    const { binding, party, shards, target } = (new.target as typeof ShardRouter).config;
    const name = ctx.id.name ?? "";
    this.partyShardName = name;
    const shard = parseShardRoom(name);
    if (shard) {
      const host: ShardHost = {
        party,
        storage: ctx.storage,
        connections: (tag) => Array.from(this.getConnections(tag)),
        openLink: async (leaderRoom, path, headers) => {
          // A ticket first, by RPC: only a Durable Object of this Worker can ask for one.
          const ticket = await (stubOf(env, binding, leaderRoom) as unknown as { partyShardTicket(): Promise<string> }).partyShardTicket();
          const res = await roomOf(env, binding, party, leaderRoom)(path, { method: "GET", headers: { ...headers, [HEADER.ticket]: ticket, upgrade: "websocket" } });
          if (!res.webSocket) throw new Error(`the leader answered ${res.status} to a link`);
          res.webSocket.accept();
          return res.webSocket;
        },
        routerRoom: (room) => routerRoomOf(env, room),
        leaderRoom: (room) => roomOf(env, binding, party, room),
      };
      this.partyShardRelay = new ShardRelay(host, shard.room, shard.shard);
    } else {
      this.partyShardPlacement = new Placement(name, party, shards, (room) => routerRoomOf(env, room), leaderStatsOf(env, binding, name), target);
    }
  }

  override fetch(request: Request): Promise<Response> {
    // Over HTTP a router room takes only a client's socket the router hands a shard, with the
    // ticket it got here by RPC just before; the runtime asks it everything else by RPC
    // (partyShardFetch). Anything else is from the internet: forwarded by a routePartykitRequest
    // (x-partykit-namespace), or as it came by other Worker code (an env[binding] route).
    const upgrade = request.headers.get("upgrade")?.toLowerCase() === "websocket";
    if (request.headers.has(EDGE_HEADER) || !this.partyShardRelay || !upgrade || !this.partyShardAdmissions.take(request.headers.get(HEADER.ticket))) {
      return Promise.resolve(json(404, { error: "Not found" }));
    }
    return super.fetch(request);
  }

  /** Asked by the router (RPC) just before it hands this shard a client's socket. */
  partyShardAdmit(): string {
    return this.partyShardAdmissions.issue();
  }

  /** The runtime's requests to this room (RPC, router-rpc.ts): placement's reports and counts, a shard's wake and counts, the router's key checks. */
  async partyShardFetch(asked: Asked): Promise<Answered> {
    await this.onStart();
    return answerAsked(this.partyShardName, asked, (req) => this.onRequest(req));
  }

  override onStart() {
    this.partyShardStarted ??= this.partyShardPlacement?.start() ?? Promise.resolve();
    return this.partyShardStarted;
  }
  override onConnect(conn: Connection, ctx: ConnectionContext) {
    if (!this.partyShardRelay) return conn.close(1008, "Not a shard");
    return this.partyShardRelay.onConnect(conn, ctx);
  }
  override onMessage(conn: Connection, message: WSMessage) {
    this.partyShardRelay?.onMessage(conn, message);
  }
  override onClose(conn: Connection, code: number, reason: string) {
    return this.partyShardRelay?.onClose(conn, code, reason);
  }
  override onError(conn: Connection, error: unknown) {
    this.partyShardRelay?.onError(conn, error instanceof Error ? error : new Error(String(error)));
  }
  override onRequest(req: Request): Response | Promise<Response> {
    return this.partyShardRelay ? this.partyShardRelay.onRequest(req) : this.partyShardPlacement!.onRequest(req);
  }
}

/**
 * routePartyShard's work, for the class `config.binding`: `/<prefix>/party-shard-router/<room>`
 * is the router; anything else goes to routePartykitRequest unchanged.
 */
async function routeToShards<Env extends Cloudflare.Env>(config: RouterConfig, request: Request, env: Env, options?: PartyServerOptions<Env>): Promise<Response | null> {
  const { binding, party, shards, target } = config;
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
    routerRoom: (name) => routerRoomOf(env, name),
    toShard: async (shardRoom, search, headers) => {
      // A ticket first, by RPC, which only this Worker's code can make (tickets.ts).
      headers.set(HEADER.ticket, await (stubOf(env, ROUTER_BINDING, shardRoom) as unknown as { partyShardAdmit(): Promise<string> }).partyShardAdmit());
      return roomOf(env, ROUTER_BINDING, ROUTER_PARTY, shardRoom, url.origin)(search, { method: "GET", headers });
    },
    // The sharded class's hooks, as routePartykitRequest runs them for a direct request.
    hook: async (kind, hooked) => {
      const hook = kind === "connect" ? options?.onBeforeConnect : options?.onBeforeRequest;
      const result = await hook?.(hooked, lobby);
      return result instanceof Request || result instanceof Response ? result : hooked;
    },
    shards,
    shardTarget: target,
    viewToken: (env as Record<string, unknown>)[VIEW_TOKEN_VAR],
  };
  if (req.headers.get("upgrade")?.toLowerCase() === "websocket") return edgeConnect(req, edge);
  const answer = await edgeRequest(req, edge);
  if (answer instanceof Response) return answer;
  // GET and HEAD: the placement room's load view.
  return edge.routerRoom(room)("", { method: answer.method, headers: answer.headers });
}

export { ShardRouter, Sharded, routeToShards, shardedServer, withRouter };
export type { RouterConfig };

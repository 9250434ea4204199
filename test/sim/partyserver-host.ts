/**
 * PartyServer's leader in the simulation: the party is a class extending `Sharded`
 * (src/runtime/sharded-server.ts) on partyserver's real Server, made on a fake Durable Object
 * state. The platform is the fake part: `cloudflare:workers` (DurableObject), the WebSocket
 * class whose attachments hibernation keeps, the object's state (storage, accepted sockets), and
 * the router's namespace, reached by RPC. A link is accepted as `partyShardAcceptLink` accepts
 * one (tagged, its id in its attachment), without the handshake; its frames and close then reach
 * the class as the platform hands them over: webSocketMessage, webSocketClose.
 */
import { register } from "node:module";
import type { Conn, LinkEnd, RoomStorage } from "../../src/runtime/host.js";
import { TestParty, type Observation } from "./party.js";

type ShardedModule = typeof import("../../src/runtime/sharded-server.js");

/** The WebSocket class of the Workers runtime, as far as PartyServer and the runtime use it. */
class SimWebSocket {
  static readonly READY_STATE_CONNECTING = 0;
  static readonly READY_STATE_OPEN = 1;
  static readonly READY_STATE_CLOSING = 2;
  static readonly READY_STATE_CLOSED = 3;
  private attachment: unknown = null;
  serializeAttachment(value: unknown) {
    this.attachment = structuredClone(value);
  }
  deserializeAttachment(): unknown {
    return structuredClone(this.attachment);
  }
}

let loading: Promise<ShardedModule> | undefined;

/** Loads PartyServer's host once, with the platform's globals it needs. */
function loadPartyServer(): Promise<ShardedModule> {
  loading ??= (async () => {
    (globalThis as { WebSocket?: unknown }).WebSocket ??= SimWebSocket;
    register(new URL("./workers-hooks.mjs", import.meta.url));
    return import("../../src/runtime/sharded-server.js");
  })();
  return loading;
}

/** A link's leader end as the platform holds it: a hibernatable WebSocket, tagged with the link's id. */
class LinkWebSocket extends SimWebSocket {
  constructor(readonly end: LinkEnd) {
    super();
    this.serializeAttachment({ partyShardLink: end.id });
  }
  get readyState() {
    return this.end.readyState;
  }
  send(message: string | ArrayBuffer) {
    this.end.send(message);
  }
  close(code?: number, reason?: string) {
    this.end.close(code, reason);
  }
}
/** The tag PartyServer's leader lists its links by (sharded-server.ts LINK_TAG). */
const LINK_TAG = "party-shard-link";

/** PartyServer's handlers on the class, as the platform calls them. */
interface ServerEvents {
  fetch(request: Request): Promise<Response>;
  webSocketMessage(ws: unknown, message: string | ArrayBuffer): Promise<void>;
  webSocketClose(ws: unknown, code: number, reason: string, wasClean: boolean): Promise<void>;
}

/**
 * A PartyServer room leading the shards, its party the TestParty. `links`: the links it accepted,
 * open (by their leader end); `routerRoom`: a router room's answer to the runtime's RPC.
 */
function partyserverLeader(
  module: ShardedModule,
  options: {
    storage: RoomStorage;
    links: () => LinkEnd[];
    sockets: WeakMap<LinkEnd, LinkWebSocket>;
    routerRoom: (room: string) => Promise<Response>;
    note: (observation: Observation) => void;
    awaits: boolean;
  },
): { frame(end: LinkEnd, raw: string | ArrayBuffer): Promise<void>; closed(end: LinkEnd): void; request(req: Request): Promise<Response> } {
  const socketOf = (end: LinkEnd) => {
    let ws = options.sockets.get(end);
    if (!ws) options.sockets.set(end, (ws = new LinkWebSocket(end)));
    return ws;
  };
  const ctx = {
    id: { name: "room", toString: () => "room" },
    storage: options.storage,
    // Hibernation keeps the accepted sockets, not the object's memory: the links, by tag.
    getWebSockets: (tag?: string) => options.links().filter((end) => tag === undefined || tag === LINK_TAG || tag === end.id).map(socketOf),
    getTags: (ws: LinkWebSocket) => [LINK_TAG, ws.end.id],
    acceptWebSocket: () => {
      throw new Error("the simulation accepts links itself");
    },
    blockConcurrencyWhile: async <T>(run: () => Promise<T>) => run(),
    waitUntil: () => undefined,
  };
  const namespace = {
    idFromName: (name: string) => ({ name }),
    get: (id: { name: string }) => ({
      partyShardFetch: async () => {
        const res = await options.routerRoom(id.name);
        return { status: res.status, headers: [...res.headers], body: await res.text() };
      },
    }),
  };
  let party: TestParty | undefined;
  // A class as apps write them on PartyServer: `extends Sharded` in place of `extends Server`.
  class SimServer extends module.Sharded {
    static options = { hibernate: true };
    constructor(state: unknown, env: unknown) {
      super(state, env);
      const server = this as unknown as { ctx: { storage: RoomStorage } } & SimServer;
      party = new TestParty(
        {
          get storage() {
            return server.ctx.storage;
          },
          broadcast: (message, without) => server.broadcast(message, without),
          getConnection: (id) => server.getConnection(id) as Conn | undefined,
          getConnections: () => server.getConnections() as Iterable<Conn>,
        },
        options.note,
        options.awaits,
      );
    }
    override onConnect(conn: unknown, ctx: { request: Request }) {
      return party!.onConnect(conn as Conn, ctx);
    }
    override onMessage(conn: unknown, message: string | ArrayBuffer) {
      return party!.onMessage(conn as Conn, message);
    }
    override onClose(conn: unknown, code: number, reason: string) {
      return party!.onClose(conn as Conn, code, reason);
    }
  }
  const server = new SimServer(ctx, { PartyShardRouter: namespace }) as unknown as ServerEvents;
  return {
    frame: (end, raw) => server.webSocketMessage(socketOf(end), raw),
    // The leader hears a link's close without its code: 1005, which it does not answer.
    closed: (end) => void server.webSocketClose(socketOf(end), 1005, "", false),
    // A shard's routed writes by request, as the platform hands the object a request (Sharded.fetch).
    request: (req) => server.fetch(req),
  };
}

export { loadPartyServer, partyserverLeader };
export type { LinkWebSocket, ShardedModule };

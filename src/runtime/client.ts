/**
 * The client side of party-shard, for browsers and any JavaScript client (`party-shard/client`).
 *
 * A sharded room's sockets each sit on one shard, and one room (the leader) runs the party.
 * `sendViaRouter(socket, payload)` POSTs a write to the router, which hands it to the leader: the
 * party's onMessage runs once, with this socket as the sender. Writes from one socket arrive in
 * the order they were sent; those sent while a request is on its way go together in the next
 * one, so a socket keeps up with a game loop over a slow network.
 *
 * Anyone can name a connection in a POST, so a write must also prove it comes from that
 * socket's client: `shardKey()` puts a random key in the socket's connect URL, the server keeps
 * it with the connection, and each write carries it back.
 */
import { randomKey, sendViaRouter, type Payload, type RoutableSocket } from "./client-writes.js";
import { KEY_PARAM } from "./protocol.js";

/** PartySocket's `query` option: parameters, or a (possibly async) function that returns them. */
type QueryParams = Record<string, string | null | undefined>;
type QueryOption = QueryParams | (() => QueryParams | Promise<QueryParams>);
type KeyedQuery<Q> = Q extends (...args: never[]) => unknown ? () => Promise<QueryParams> : QueryParams;

/**
 * Adds a new write key to a socket's connect query; an object query stays an object and a
 * function query stays a function, which adds the same key on every reconnect.
 *
 * @example
 * new PartySocket({ host, room, party: "shards", query: shardKey({ token }) });
 */
function shardKey<Q extends QueryOption | undefined = undefined>(query?: Q): KeyedQuery<Q>;
function shardKey(query?: QueryOption): QueryOption {
  const key = randomKey();
  if (typeof query === "function") return async () => ({ ...(await query()), [KEY_PARAM]: key });
  const keyed: QueryParams = { ...query, [KEY_PARAM]: key };
  // usePartySocket makes a new socket whenever JSON.stringify(query) changes, and a component
  // calls shardKey on every render: leaving the key out of the JSON keeps its socket.
  Object.defineProperty(keyed, "toJSON", { value: () => query ?? {} });
  return keyed;
}

/** What a project's client uses, for the router party it named. */
interface RouterClient {
  /**
   * Publishes `payload` through the router, like `socket.send(payload)` would to one room.
   *
   * Writes of one socket arrive in the order they were sent. The promise resolves once the party
   * has taken the write, and rejects once it has finally failed (retries spent, 15 s passed,
   * refused, or the socket's queue full); a failure is also reported with console.error, so a
   * caller that ignores the promise loses nothing it had before. It never throws. A null or
   * undefined socket is ignored, as `socket?.send(payload)` would; a socket that is not on the
   * router party (or has no write key) sends on itself.
   */
  sendViaRouter(socket: RoutableSocket | null | undefined, payload: Payload): Promise<void>;
  shardKey: typeof shardKey;
}

/** The client functions for sockets on the router party `router` (`/parties/<router>/<room>`). */
function routerClient(router: string): RouterClient {
  const routerPath = `/parties/${router}/`;
  return { sendViaRouter: (socket, payload) => sendViaRouter(socket, payload, routerPath), shardKey };
}

export { routerClient, shardKey };
export type { Payload, QueryOption, QueryParams, RoutableSocket, RouterClient };

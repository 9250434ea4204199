/**
 * The runtime's requests to the router's rooms (placement `<room>`, shards `<room>!shard-<n>`) on
 * PartyServer go by Durable Object RPC (`partyShardFetch`), which no HTTP request can make. So the
 * rooms' HTTP serves only the client sockets the router hands a shard, each with a ticket
 * (tickets.ts): a Worker route that passes any request to any Durable Object by name reaches no
 * load view, report or shard of ours. The requests carry headers, and a routed write its body
 * (shard-writes.ts); the answers are small JSON or text.
 */
import type { RoomFetch } from "./host.js";
import { headerPairs } from "./protocol.js";
import { ROUTER_PARTY } from "./worker-route.js";

/** The router's binding: the same in every project (init adds it). */
const ROUTER_BINDING = "PartyShardRouter";

/** A request to a router room, as RPC carries it. */
interface Asked {
  path: string;
  method: string;
  headers: [string, string][];
  /** A stream: a routed write streamed to its shard, which reads it only once it checked the key (edge.ts). */
  body?: ArrayBuffer | string | ReadableStream<Uint8Array>;
}
/** Its answer. */
interface Answered {
  status: number;
  headers: [string, string][];
  body: string;
}

function stubOf(env: unknown, binding: string, name: string): DurableObjectStub {
  const namespace = (env as Record<string, DurableObjectNamespace | undefined>)[binding];
  if (!namespace) throw new Error(`party-shard: env.${binding} is missing: add its Durable Object binding to the wrangler config (npx party-shard init)`);
  return namespace.get(namespace.idFromName(name));
}

/** A router room of this Worker, asked by RPC. */
function routerRoomOf(env: unknown, room: string): RoomFetch {
  return async (path, init) => {
    const stub = stubOf(env, ROUTER_BINDING, room) as unknown as { partyShardFetch(asked: Asked): Promise<Answered> };
    const answer = await stub.partyShardFetch({ path, method: init.method, headers: headerPairs(new Headers(init.headers)), ...(init.body !== undefined ? { body: init.body } : {}) });
    // 204 and its kind take no body.
    return new Response(answer.body === "" ? null : answer.body, { status: answer.status, headers: answer.headers });
  };
}

/** What a router room answers an RPC request with: `answer` is its own onRequest. */
async function answerAsked(room: string, asked: Asked, answer: (req: Request) => Response | Promise<Response>): Promise<Answered> {
  const res = await answer(new Request(`http://party-shard/parties/${ROUTER_PARTY}/${room}${asked.path}`, { method: asked.method, headers: asked.headers, ...(asked.body !== undefined ? { body: asked.body } : {}) }));
  return { status: res.status, headers: headerPairs(res.headers), body: await res.text() };
}

export { ROUTER_BINDING, answerAsked, routerRoomOf, stubOf };
export type { Asked, Answered };

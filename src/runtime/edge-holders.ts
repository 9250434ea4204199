/**
 * Which shard holds a writer's socket under its key, as the router's edge finds it for a routed
 * write (edge.ts): asked with the write's headers only, so whoever lacks the key costs a header
 * check per shard, never a body read nor a leader request.
 */
import { placedHere, shardsHolding } from "./edge-placement.js";
import type { Edge } from "./host.js";
import { HEADER, decodeId, shardRoomId, withTimeout } from "./protocol.js";

/** Time for one request of the router's to a room: a check here, an attempt of a write (edge.ts). */
const ATTEMPT_TIMEOUT_MS = 10_000;

/** Who a write says it comes from: its connection (id percent-encoded), key, and the shard it says holds it. */
interface Writer {
  connection: string;
  key: string;
  holder: string | null;
}

/** The shard the client named (it learnt it from an earlier answer), else the one this isolate placed its socket on; unchecked. */
function namedHolder(edge: Edge, writer: Writer): number | undefined {
  const id = decodeId(writer.connection);
  const hinted = Array.from({ length: edge.shards ?? 0 }, (_, i) => i + 1).find((shard) => String(shard) === writer.holder);
  return hinted ?? (id === undefined || edge.shards === undefined ? undefined : placedHere(edge.room, id));
}

/**
 * The shard holding the writer's socket under its key: the one the write names (namedHolder),
 * asked first unless it already said it does not (`namedSaidNo`: the write went there); else
 * whichever does, asked at once (those this isolate placed clients on, then the others).
 */
async function holderOf(edge: Edge, writer: Writer, named: number | undefined, namedSaidNo: boolean): Promise<number | undefined> {
  if (edge.shards === undefined) {
    console.error("party-shard: this router does not say how many shards it has, so no write can be checked; regenerate it with `npx party-shard init --force`");
    return undefined;
  }
  if (named !== undefined && !namedSaidNo && (await holds(edge, named, writer))) return named;
  // The shards this isolate counts clients on first: a shard out of use is empty, and asking it
  // would wake it for nothing. The rest only when none of those holds the writer.
  const likely = shardsHolding(edge.room, edge.shards).filter((shard) => shard !== named);
  const rest = Array.from({ length: edge.shards }, (_, i) => i + 1).filter((shard) => shard !== named && !likely.includes(shard));
  const found = await firstHolder(edge, likely, writer);
  return found !== undefined || rest.length === 0 ? found : firstHolder(edge, rest, writer);
}

/** The first of `shards` that holds the writer, all asked at once. */
async function firstHolder(edge: Edge, shards: number[], writer: Writer): Promise<number | undefined> {
  const answers = await Promise.all(shards.map((shard) => holds(edge, shard, writer)));
  return shards[answers.indexOf(true)];
}

async function holds(edge: Edge, shard: number, { connection, key }: Writer): Promise<boolean> {
  try {
    const res = await withTimeout(edge.routerRoom(shardRoomId(edge.room, shard))("", { method: "GET", headers: { [HEADER.connection]: connection, [HEADER.key]: key } }), ATTEMPT_TIMEOUT_MS);
    return res.status === 204;
  } catch (error) {
    console.error(`party-shard: shard ${shard} of room ${edge.room} did not say whether it holds a writer`, error);
    return false;
  }
}

export { ATTEMPT_TIMEOUT_MS, holderOf, namedHolder };
export type { Writer };

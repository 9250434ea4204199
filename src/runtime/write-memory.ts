/**
 * What a client remembers per write key, not per socket object, so a remounted socket (same id,
 * same keyed query) goes on from the old one's; the MAX_KEYS keys written with last:
 * - the last write number given: the room never runs a write after a higher one;
 * - the shard holding the socket, as the router's last answer said: the router asks that shard
 *   first whether the key is the socket's, instead of asking every shard.
 */
import { HEADER } from "./protocol.js";

const MAX_KEYS = 1_000;
const sequences = new Map<string, number>();
const holders = new Map<string, string>();

/** Sets `key` as the most recently used; the least recently used goes past MAX_KEYS. */
function remember<T>(memory: Map<string, T>, key: string, value: T): void {
  memory.delete(key);
  memory.set(key, value);
  if (memory.size > MAX_KEYS) memory.delete(memory.keys().next().value!);
}

/** The next write number of `key`: 1, 2, … */
function nextSeq(key: string): number {
  const seq = (sequences.get(key) ?? 0) + 1;
  remember(sequences, key, seq);
  return seq;
}

/** The shard the router last said holds the socket of `key`, as the header that tells it back. */
function holderHeader(key: string): Record<string, string> {
  const holder = holders.get(key);
  return holder === undefined ? {} : { [HEADER.holder]: holder };
}

/** An answer that names the holder is remembered; one that does not (the key was refused) forgets it. */
function learnHolder(key: string, response: Response): void {
  const holder = response.headers.get(HEADER.holder);
  if (holder === null) holders.delete(key);
  else remember(holders, key, holder);
}

export { holderHeader, learnHolder, nextSeq };

/**
 * The request a shard sends the leader with its writers' routed writes (shard-writes.ts), and
 * the leader's answer: each write as the router would have sent it alone (its headers and body),
 * each answer as the leader would have given it. JSON, bodies in base64, bounded in count and
 * bytes on both ends: anyone can POST this to the room, and each write is checked as if alone.
 */

/** The content type of a shard's forwarded writes. */
const WRITES_TYPE = "application/vnd.party-shard.writes+json";
/** The most writes one request carries, and the most bytes of JSON it may take (bodies in base64: 4/3 of 1 MiB, a write alone up to the router's 1 MiB). */
const MAX_FORWARDED_WRITES = 64;
const MAX_FORWARDED_BYTES = 3_145_728;
/** The headers of a write the leader reads (the router's, and the client's content type): a shard forwards these only. */
const FORWARDED_HEADERS = ["content-type", "idempotency-key", "x-party-shard-connection", "x-party-shard-key", "x-party-shard-seq", "x-party-shard-attempt"];
const MAX_WRITE_HEADERS = FORWARDED_HEADERS.length;
const MAX_HEADER_CHARS = 1_024;

interface ForwardedWrite {
  headers: [string, string][];
  /** The body, base64. */
  body: string;
}

interface ForwardedAnswer {
  status: number;
  headers: [string, string][];
  /** The answer's body, base64; null for none. */
  body: string | null;
}

/** A write's headers as it goes to the leader. */
function forwardedHeaders(headers: Headers): [string, string][] {
  return FORWARDED_HEADERS.flatMap((name) => {
    const value = headers.get(name);
    return value === null ? [] : [[name, value] as [string, string]];
  });
}

/** The writes in `text`, or why they are not: every count and size checked before use. */
function parseForwarded(text: string): ForwardedWrite[] | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "Forwarded writes are JSON";
  }
  const writes = (value as { writes?: unknown } | null)?.writes;
  if (!Array.isArray(writes) || writes.length === 0 || writes.length > MAX_FORWARDED_WRITES) return `Forwarded writes are 1 to ${MAX_FORWARDED_WRITES} writes`;
  for (const write of writes as unknown[]) {
    const { headers, body } = (write ?? {}) as { headers?: unknown; body?: unknown };
    if (typeof body !== "string" || !Array.isArray(headers) || headers.length > MAX_WRITE_HEADERS) return "A forwarded write has headers and a body";
    const pair = (entry: unknown) => Array.isArray(entry) && entry.length === 2 && entry.every((part) => typeof part === "string" && part.length <= MAX_HEADER_CHARS);
    if (!headers.every(pair)) return "A forwarded write's headers are [name, value] pairs";
  }
  return writes as ForwardedWrite[];
}

export { MAX_FORWARDED_BYTES, WRITES_TYPE, forwardedHeaders, parseForwarded };
export type { ForwardedAnswer, ForwardedWrite };

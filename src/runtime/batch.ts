/**
 * Batches of writes: several writes of one connection in one request, as the client helper
 * sends them while its previous request is on its way. The body came from the internet, so it
 * is checked entry by entry before anything runs.
 */

/**
 * A batch's writes and body bytes. The client helper's MAX_BATCH_WRITES and MAX_BATCH_BYTES must
 * be the same (a helper whose batch is refused whole, 400 or 413, sends its writes one by one).
 */
const MAX_BATCH_WRITES = 512;
const MAX_BATCH_BYTES = 1_048_576;

/** One write of a batch, as the client helper sends it: its idempotency key, its number (`s`), and text or base64. */
type BatchEntry = ({ k: string; t: string } | { k: string; b: string }) & { s?: number };
/** What became of each write of a batch, in order; a write after the first one left open is missing. */
interface BatchResult {
  status: number;
  error?: string;
}
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Idempotency keys are printable ASCII: what a header could carry. */
const PRINTABLE = /^[\x21-\x7e]+$/;
/** A write's number: a positive safe integer, as a header carries it. */
const SEQ_PATTERN = /^[1-9][0-9]{0,15}$/;

/** A write's number from its header; undefined when absent (an older helper), null when malformed. */
function parseSeq(header: string | null): number | undefined | null {
  if (header === null) return undefined;
  return SEQ_PATTERN.test(header) && Number.isSafeInteger(Number(header)) ? Number(header) : null;
}

/** The entries of a batch body, or why it is refused. Checked entry by entry: the body came from the internet. */
function parseBatch(text: string, maxWrites: number, maxKeyLength: number): BatchEntry[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return "A batch is a JSON array";
  }
  if (!Array.isArray(parsed) || parsed.length === 0) return "A batch is a non-empty JSON array";
  if (parsed.length > maxWrites) return `A batch holds at most ${maxWrites} writes`;
  const entries: BatchEntry[] = [];
  for (let i = 0; i < parsed.length; i++) {
    const entry: unknown = parsed[i];
    const { k, t, b, s, ...rest } = (entry ?? {}) as Record<string, unknown>;
    const valid =
      typeof entry === "object" && !Array.isArray(entry) && Object.keys(rest).length === 0 && typeof k === "string" && k.length > 0 && k.length <= maxKeyLength && PRINTABLE.test(k) &&
      (s === undefined || (typeof s === "number" && Number.isSafeInteger(s) && s > 0)) &&
      (typeof t === "string" ? b === undefined : typeof b === "string" && b.length % 4 === 0 && BASE64.test(b));
    if (!valid) return `Write ${i} of the batch is not { k, t } or { k, b } (with an optional number s) with a key of at most ${maxKeyLength} printable ASCII characters`;
    const seq = typeof s === "number" ? { s } : {};
    entries.push(typeof t === "string" ? { k: k as string, t, ...seq } : { k: k as string, b: b as string, ...seq });
  }
  return entries;
}

export { MAX_BATCH_BYTES, MAX_BATCH_WRITES, parseBatch, parseSeq };
export type { BatchEntry, BatchResult };

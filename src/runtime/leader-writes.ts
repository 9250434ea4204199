/**
 * Writes POSTed through the router (sendViaRouter), run at the leader as their connection's
 * messages.
 *
 * Invariants:
 * - a write runs only as the connection whose key it carries, and only once its socket's open
 *   reached the leader: 425 otherwise (the sender retries), the same answer for both, so the
 *   answer tells nobody without the key whether an id is connected;
 * - once per idempotency key while the key is remembered: at least WRITE_MEMORY_MIN_MS (longer
 *   than its client retries), at most WRITE_MEMORY_MS; past WRITE_MEMORY_BYTES of young writes a
 *   new write gets 503, never a forgotten key; the same key with another body is 409;
 * - a numbered write never runs after a newer write of its connection (410): numbers are kept
 *   with the connection, mirrored to its shard, and remembered SEQ_MEMORY_MS after it left
 *   (at most SEQ_MEMORY_BYTES).
 */
import { MAX_BATCH_WRITES, parseBatch, parseSeq, type BatchResult } from "./batch.js";
import { COALESCE_MAX_MS, type Fanout } from "./leader-fanout.js";
import { BATCH_TYPE, HEADER, MAX_ID_LENGTH, UNKNOWN_CONNECTION, decode, decodeId, fromBase64, headerPairs, injectedFault, readBody, sameKey, sleep, toBase64 } from "./protocol.js";
import { MAX_FORWARDED_BYTES, WRITES_TYPE, parseForwarded, type ForwardedAnswer } from "./forwarded-writes.js";
import { dropOldest } from "./oldest-first.js";
import type { RelayFrame } from "./protocol.js";
import type { RemoteConnection } from "./remote-connection.js";

/** How long a routed write is remembered by its idempotency key, and the bytes that memory may take. */
const WRITE_MEMORY_MS = 60_000;
const WRITE_MEMORY_BYTES = 16_777_216;
/**
 * A write is never forgotten younger than this, even past WRITE_MEMORY_BYTES: its client may
 * still retry it (15 s), and the retry must hear "taken", not run again or get 410. New writes
 * get 503 (retried by the client) while young writes fill the memory.
 */
const WRITE_MEMORY_MIN_MS = 20_000;
/** How long the highest write number taken from a connection is kept after its last write, and the bytes that may take. */
const SEQ_MEMORY_MS = 300_000;
const SEQ_MEMORY_BYTES = 8_388_608;
/** How long the leader waits for forwarded writes to run before it answers them (they were taken either way). */
const FORWARDED_WAIT_MS = 2_000;

/** Settles once `run` does, or once `ms` passed (Infinity: only the run). */
function atMost(run: Promise<unknown> | undefined, ms: number): Promise<unknown> | undefined {
  return ms === Infinity ? run : Promise.race([run, sleep(ms)]);
}

/** What the writes need of the leader. */
interface WriteTarget {
  readonly env: Record<string, unknown>;
  readonly fanout: Fanout;
  /** Resolves once a starting leader heard its shards: before that it knows none of their clients. */
  heardShards(): Promise<void>;
  /** No storage call of the party's in flight (input-gate.ts). */
  readonly gate: { open(): Promise<void> };
  /** Runs `take` in turn with the shards' frames (leader.ts). */
  inTurn<T>(take: () => Promise<T>): Promise<T>;
  remote(id: string): RemoteConnection | undefined;
  /** Hands a message to the party as the connection's. */
  deliver(remote: RemoteConnection, message: string | ArrayBuffer): unknown;
}

/**
 * How a write came: by request, taken in turn with the shards' frames; or in a link frame's turn
 * (`taken`: called once it is in its connection's turn). Answered after `waitMs` at most.
 */
type Via = { waitMs?: number; taken?: () => void; onLink?: boolean };

class LeaderWrites {
  private readonly recent = new RecentWrites();
  /** Highest write number taken per connection id and key; outlives the connection for a reconnect. */
  private readonly sequences = new Sequences();
  /**
   * For the load view: writes refused because this room did not know their connection under
   * their key. The edge lets through only writes a shard vouched for, so these are only writes
   * that overtook their socket's open. `writes`: routed writes handed to the party.
   */
  readonly stats = { unknownWriters: 0, writes: 0 };

  constructor(private readonly leader: WriteTarget) {}

  /**
   * The requests the runtime answers itself: its stats (`stats`) and routed writes. A forwarded
   * request may meet an injected fault. Undefined: the request is the party's.
   */
  answer(req: Request, stats: () => object): Promise<Response> | Response | undefined {
    if (req.headers.has(HEADER.stats)) return Response.json(stats());
    if (req.headers.get("content-type") === WRITES_TYPE) return this.forwarded(req);
    if (req.headers.has(HEADER.connection)) return req.headers.get("content-type") === BATCH_TYPE ? this.writeBatch(req) : this.write(req);
    const faulty = req.headers.has(HEADER.forwarded) && injectedFault(this.leader.env, req.headers.get(HEADER.attempt) !== "1", "a forwarded request") === "before";
    return faulty ? new Response("injected fault", { status: 503 }) : undefined;
  }

  /** One write; answered once the party has run it, or (`waitMs`) after that long at most: it was taken, and runs in its turn. */
  async write(req: Request, { waitMs = Infinity, taken, onLink = false }: Via = {}): Promise<Response> {
    const type = req.headers.get("content-type") ?? "";
    const body = await req.arrayBuffer();
    const idempotencyKey = req.headers.get(HEADER.idempotencyKey) ?? crypto.randomUUID();
    const retry = req.headers.get(HEADER.attempt) !== "1";
    const seq = parseSeq(req.headers.get(HEADER.seq));
    if (seq === null) return new Response(`${HEADER.seq} is a positive integer`, { status: 400 });
    const take = () => this.takeWrite(req.headers.get(HEADER.connection), req.headers.get(HEADER.key), type, body, idempotencyKey, seq, retry, "a routed write");
    const outcome = await this.inItsTurn(onLink, take);
    outcome.remote?.mirrorSeq();
    taken?.();
    await atMost(outcome.done, waitMs);
    // The header says this room takes batches: a helper sends one only after seeing it.
    return new Response(outcome.error ?? "ok", { status: outcome.status, headers: { [HEADER.batch]: "1" } });
  }

  /**
   * Writes a shard forwarded together (forwarded-writes.ts): each run exactly as if it came
   * alone, all at once (as separate requests would), and each answered as it would have been,
   * but after FORWARDED_WAIT_MS at most: one onMessage that never settles must not hold the
   * answers of the other writers it came with (each answer is already known; only the run waits).
   */
  async forwarded(req: Request): Promise<Response> {
    const body = await readBody(req, MAX_FORWARDED_BYTES);
    const writes = body === undefined ? `Forwarded writes are at most ${MAX_FORWARDED_BYTES} bytes` : parseForwarded(new TextDecoder().decode(body));
    if (typeof writes === "string") return new Response(writes, { status: 400 });
    const answers = await Promise.all(
      writes.map(async ({ headers, body }): Promise<ForwardedAnswer> => {
        const res = await this.alone(headers, fromBase64(body), { waitMs: FORWARDED_WAIT_MS });
        const bytes = await res.arrayBuffer();
        return { status: res.status, headers: headerPairs(res.headers), body: bytes.byteLength === 0 ? null : toBase64(new Uint8Array(bytes)) };
      }),
    );
    return Response.json({ answers });
  }

  /**
   * A write a shard sent on its link (shard-writes.ts), answered as forwarded ones are; 503 when
   * the room did not start or the write failed to run (the router retries; it runs once).
   * Resolves once it is in its connection's turn (or refused), so the frames after it on the
   * link (its socket's close) come after it, as the shard sent them.
   */
  linked(frame: Extract<RelayFrame, { t: "write" }>, started: boolean, answer: (answer: { status: number; body: string }) => void): Promise<void> {
    if (!started) return Promise.resolve(answer({ status: 503, body: "The room did not start" }));
    let taken!: () => void;
    const turn = new Promise<void>((resolve) => (taken = resolve));
    // Broadcasts wait while the writes that came together are handed to the party (COALESCE_MAX_MS
    // at most: a slow onMessage holds none long), then go as one frame per shard.
    const fanout = this.leader.fanout;
    let batched = true;
    const end = () => void (batched && ((batched = false), fanout.endBatch()));
    fanout.beginBatch();
    setTimeout(end, COALESCE_MAX_MS);
    void (async () => {
      try {
        const res = await this.alone(frame.headers, decode(frame.data), { waitMs: FORWARDED_WAIT_MS, taken, onLink: true });
        answer({ status: res.status, body: await res.text() });
      } catch (error) {
        console.error("party-shard: a routed write failed", error);
        answer({ status: 503, body: "The room did not take the write" });
      } finally {
        taken();
        end();
      }
    })();
    return turn;
  }

  /** `take` in turn with the shards' frames: at once in a link frame's turn (`onLink`: it is that turn), else queued for one. */
  private inItsTurn<T>(onLink: boolean, take: () => Promise<T>): Promise<T> {
    return onLink ? take() : this.leader.inTurn(take);
  }

  /** A forwarded write, as if it came alone (one write, or one connection's batch). */
  private alone(headers: [string, string][], body: ArrayBuffer | string, via: Via): Promise<Response> {
    const one = new Request("http://party-shard/", { method: "POST", headers, body });
    return one.headers.get("content-type") === BATCH_TYPE ? this.writeBatch(one, via) : this.write(one, via);
  }

  /**
   * Several writes of one connection, in order: each checked and run exactly as it would be
   * alone. The first write that may succeed later (425, 503) ends the batch, so nothing runs
   * ahead of it; the router sends the rest again. Broadcasts go one frame per shard while the
   * writes are being handed to the party (each onMessage has started), not until they finish:
   * a slow onMessage must not hold every broadcast of the room.
   */
  async writeBatch(req: Request, { waitMs = Infinity, taken, onLink = false }: Via = {}): Promise<Response> {
    // The router's limits (it checked them already).
    const entries = parseBatch(await req.text(), MAX_BATCH_WRITES, MAX_ID_LENGTH);
    if (typeof entries === "string") return new Response(entries, { status: 400 });
    const connection = req.headers.get(HEADER.connection);
    const key = req.headers.get(HEADER.key);
    const retry = req.headers.get(HEADER.attempt) !== "1";
    const results: BatchResult[] = [];
    const runs: Promise<void>[] = [];
    const started: Promise<void>[] = [];
    let remote: RemoteConnection | undefined;
    this.leader.fanout.beginBatch();
    const takeAll = async () => {
      for (const entry of entries) {
        // The type and bytes the same write would carry alone: its digest is the same either way.
        const [type, body] = "t" in entry ? ["text/plain;charset=UTF-8", new TextEncoder().encode(entry.t).slice().buffer] : ["application/octet-stream", fromBase64(entry.b)];
        const outcome = await this.takeWrite(connection, key, type, body, entry.k, entry.s, retry, "a batched write");
        results.push(outcome.error === undefined ? { status: outcome.status } : { status: outcome.status, error: outcome.error });
        remote ??= outcome.remote;
        if (outcome.done) runs.push(outcome.done);
        if (outcome.started) started.push(outcome.started);
        if (outcome.status === 425 || outcome.status === 503) break;
      }
    };
    try {
      await this.inItsTurn(onLink, takeAll);
      remote?.mirrorSeq();
      taken?.();
      // Bounded: an earlier handler of this connection that never settles delays no broadcast long.
      await Promise.race([Promise.all(started), sleep(COALESCE_MAX_MS)]);
    } finally {
      this.leader.fanout.endBatch();
    }
    await atMost(Promise.all(runs), waitMs);
    return Response.json({ results }, { headers: { [HEADER.batch]: "1" } });
  }

  /**
   * One write: the connection must be known here and the key its own; then onMessage runs once
   * per idempotency key. `done` settles when the party has taken it, `started` once its
   * onMessage has been called. A numbered write not remembered by its key runs only when its
   * number is above every number taken from the connection: an older write (one its client gave
   * up on, still retried by the router) never runs after a newer one, nor a write twice once the
   * key memory has moved on. Writes without a number (older helpers) run as before.
   */
  private async takeWrite(connection: string | null, key: string | null, type: string, body: ArrayBuffer, idempotencyKey: string, seq: number | undefined, retry: boolean, what: string): Promise<{ status: number; error?: string; done?: Promise<void>; started?: Promise<void>; remote?: RemoteConnection }> {
    const id = decodeId(connection);
    const digest = await digestOf(type, body);
    // A woken leader knows its shards' clients once they answered (resync). Then nothing is
    // awaited until the write is handed over: its connection is the one looked up, and no other
    // handler of the party's is between storage calls (input-gate.ts).
    await this.leader.heardShards();
    await this.leader.gate.open();
    const remote = id === undefined ? undefined : this.leader.remote(id);
    // 425: the socket's open may still be on its way from its shard; the sender retries. A wrong
    // key gets the same answer: to whoever lacks the key, a connected id and an unknown one look
    // alike (a 403 told anyone which ids are connected).
    if (!remote || !sameKey(remote.key, key)) {
      this.stats.unknownWriters++;
      return { status: 425, error: UNKNOWN_CONNECTION };
    }
    const fault = injectedFault(this.leader.env, retry, what);
    if (fault === "before") return { status: 503, error: "injected fault" };
    const memoryKey = `${remote.id}\n${idempotencyKey}`;
    let done = this.recent.find(memoryKey, digest);
    if (done === "reused") return { status: 409, error: "This Idempotency-Key was used for another write" };
    let started: Promise<void> | undefined;
    if (!done) {
      if (this.recent.full()) return { status: 503, error: "This room is taking too many writes at once; try again shortly", remote };
      if (seq !== undefined) {
        const seqKey = `${remote.id}\n${remote.key ?? ""}`;
        const highest = Math.max(this.sequences.get(seqKey), remote.seqTaken);
        if (seq <= highest) return { status: 410, error: `Write ${seq} was overtaken by write ${highest} of this connection, or already taken`, remote };
        this.sequences.set(seqKey, seq);
        remote.seqTaken = seq;
      }
      const message = type.startsWith("application/octet-stream") ? body : new TextDecoder().decode(body);
      this.stats.writes++;
      let called!: () => void;
      started = new Promise<void>((resolve) => (called = resolve));
      // A throw in onMessage is only logged, as on a direct socket: the write was delivered.
      done = this.recent.add(
        memoryKey,
        digest,
        remote.run(() => {
          try {
            return this.leader.deliver(remote, message);
          } finally {
            called();
          }
        }, false),
      );
    }
    const taken = { done, remote, ...(started ? { started } : {}) };
    return fault === "after" ? { status: 503, error: "injected fault", ...taken } : { status: 200, ...taken };
  }
}

/** Writes run lately, by idempotency key, with a digest of what they carried; bounded in bytes. */
class RecentWrites {
  private readonly entries = new Map<string, { at: number; digest: string; bytes: number; done: Promise<void> }>();
  private bytes = 0;

  /** The earlier run of this key, "reused" when it carried something else, or undefined. */
  find(key: string, digest: string): Promise<void> | "reused" | undefined {
    this.forget();
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    return entry.digest === digest ? entry.done : "reused";
  }

  /** Whether the memory holds as many bytes as it may, all of writes too young to forget. */
  full(): boolean {
    this.forget();
    return this.bytes >= WRITE_MEMORY_BYTES;
  }

  add(key: string, digest: string, done: Promise<void>): Promise<void> {
    const bytes = entryBytes(key, digest);
    this.entries.set(key, { at: Date.now(), digest, bytes, done });
    this.bytes += bytes;
    this.forget();
    return done;
  }

  /** Oldest first: past WRITE_MEMORY_MS, or past the byte bound once older than WRITE_MEMORY_MIN_MS. */
  private forget() {
    const now = Date.now();
    const kept = (age: number) => age < WRITE_MEMORY_MS && (this.bytes <= WRITE_MEMORY_BYTES || age < WRITE_MEMORY_MIN_MS);
    dropOldest(this.entries, (entry) => !kept(now - entry.at), (key, entry) => {
      this.entries.delete(key);
      this.bytes -= entry.bytes;
    });
  }
}

/** Highest write number taken per connection id and key, for SEQ_MEMORY_MS after its last write; bounded in bytes. */
class Sequences {
  private readonly entries = new Map<string, { seq: number; expires: number; bytes: number }>();
  private bytes = 0;

  get(key: string): number {
    this.forget();
    return this.entries.get(key)?.seq ?? 0;
  }

  set(key: string, seq: number) {
    // Re-inserted, so the map stays oldest first.
    this.delete(key);
    const bytes = entryBytes(key, "");
    this.entries.set(key, { seq, expires: Date.now() + SEQ_MEMORY_MS, bytes });
    this.bytes += bytes;
    this.forget();
  }

  private forget() {
    const now = Date.now();
    dropOldest(this.entries, (entry) => entry.expires <= now || this.bytes > SEQ_MEMORY_BYTES, (key) => this.delete(key));
  }

  private delete(key: string) {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }
}

/** What an entry of those maps takes, about: UTF-16 strings and the entry's own overhead. */
function entryBytes(key: string, digest: string): number {
  return 2 * (key.length + digest.length) + 100;
}

async function digestOf(type: string, body: ArrayBuffer): Promise<string> {
  const prefix = new TextEncoder().encode(`${type}\n`);
  const typed = new Uint8Array(prefix.byteLength + body.byteLength);
  typed.set(prefix);
  typed.set(new Uint8Array(body), prefix.byteLength);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", typed));
  return Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export { LeaderWrites, RecentWrites, Sequences };
export type { WriteTarget };

/**
 * Routed writes pass through their writer's shard on their way to the leader: the shard checks
 * the writer's key (from its socket's state, shard-sockets.ts), then sends the write on its link
 * as a `write` frame, with the frames of every other writer and socket made meanwhile (one
 * leader invocation for many writes, acknowledged with them); the leader answers each with a
 * `wrote` frame, exactly as it would have answered the write alone.
 *
 * Where the link cannot take it (no link up, a leader from before link writes, a write over
 * LINK_WRITE_MAX_BYTES, or many frames unacknowledged), the write goes by request, with the
 * writes of all its writers that arrive within MERGE_MS (or, under load, while the previous
 * request is on its way, HOLD_MAX_MS at most) as one request (WRITES_TYPE).
 *
 * - order: a writer's writes reach the leader in the order they reached the shard (its client
 *   sends the next only after this one's answer);
 * - bounded: at most MAX_WRITES writes and MAX_BYTES of their bodies go together; one bigger
 *   write goes alone;
 * - failure: a leader that fails or does not answer within LEADER_TIMEOUT_MS leaves each write
 *   503, which the router retries with the same Idempotency-Key (the leader runs it once); so
 *   does a write on the link that a leader took and can no longer answer (it lost its memory).
 */
import type { RoomFetch } from "./host.js";
import { WRITES_TYPE, forwardedHeaders } from "./forwarded-writes.js";
import type { ForwardedAnswer, ForwardedWrite } from "./forwarded-writes.js";
import { MAX_BATCH_BYTES } from "./batch.js";
import { HEADER, decodeId, fromBase64, readBody, toBase64, withTimeout } from "./protocol.js";

/**
 * How long a write waits for others to share its request to the leader; and, while an earlier
 * request is still on its way, how long at most in all (then it goes when that one is answered).
 */
const MERGE_MS = 10;
const HOLD_MAX_MS = 50;
const MAX_WRITES = 64;
const MAX_BYTES = 1_048_576;
/** Under the router's own attempt timeout (10 s), so its retry finds this write answered. */
const LEADER_TIMEOUT_MS = 9_000;
/** The largest write that rides the link: a bigger one would hold the frames behind it (and the link's unacknowledged bytes are bounded). */
const LINK_WRITE_MAX_BYTES = 65_536;

/** The shard's link as writes ride it: whether it takes one of `bytes` now; a write's frame sent (its number). */
interface WriteLink {
  takes(bytes: number): boolean;
  send(id: string, headers: [string, string][], body: Uint8Array): number;
}

interface Waiting {
  write: ForwardedWrite;
  bytes: number;
  answer: (res: Response) => void;
}

class ShardWrites {
  private waiting: Waiting[] = [];
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Requests to the leader on their way; whether the waiting writes' MERGE_MS has passed. */
  private inFlight = 0;
  private due = false;
  /** Writes sent on the link, by frame number, until the leader's `wrote`. */
  private readonly linked = new Map<number, (res: Response) => void>();
  /** Requests the router made of this shard for writes (key checks, writes): the load view shows them, the cost model reads them. */
  requests = 0;

  constructor(
    private readonly leader: () => RoomFetch,
    private readonly link?: WriteLink,
  ) {}

  /** Writes on the link wait for their answers: the link stays up for them. */
  get onLink(): boolean {
    return this.linked.size > 0;
  }

  /**
   * A writer's request at its shard: a GET asks whether its socket is here under its key (204,
   * else 404); a POST is a write, answered as the leader answered it, or 404 with a holder of
   * "none" when the writer's socket is not here under that key (nothing read, nothing run).
   */
  async answer(req: Request, holds: () => Promise<boolean>): Promise<Response> {
    this.requests++;
    const held = await holds();
    if (req.method !== "POST") return new Response(null, { status: held ? 204 : 404 });
    if (held) return this.forward(req);
    void req.body?.cancel().catch(() => undefined);
    return new Response(null, { status: 404, headers: { [HEADER.holder]: "none" } });
  }

  /** The leader's answer to the write whose frame is numbered `seq`. */
  wrote(seq: number, status: number, body: string) {
    this.linked.get(seq)?.(new Response(body, { status, headers: { [HEADER.batch]: "1" } }));
  }

  /** Writes on the link up to frame `upTo` that no leader will answer (a new one met; or, all, the shard starts afresh): 503, which the router retries. */
  unanswerable(upTo = Infinity) {
    this.linked.forEach((answer, seq) => seq <= upTo && answer(unanswered()));
  }

  private async forward(req: Request): Promise<Response> {
    // The router streams a write that names this shard (edge.ts): bounded here, as it bounds what it reads.
    const body = await readBody(req, MAX_BATCH_BYTES);
    if (body === undefined) return Response.json({ error: `Body larger than ${MAX_BATCH_BYTES} bytes` }, { status: 413 });
    const headers = forwardedHeaders(req.headers);
    // Held: its id is one (decodeId).
    const writer = decodeId(req.headers.get(HEADER.connection))!;
    if (body.byteLength <= LINK_WRITE_MAX_BYTES && this.link?.takes(body.byteLength)) return this.onLinkNow(this.link, writer, headers, new Uint8Array(body));
    const write: ForwardedWrite = { headers, body: toBase64(new Uint8Array(body)) };
    return new Promise<Response>((answer) => {
      if (this.waiting.length > 0 && (this.waiting.length >= MAX_WRITES || this.bytes + body.byteLength > MAX_BYTES)) this.flush();
      this.waiting.push({ write, bytes: body.byteLength, answer });
      this.bytes += body.byteLength;
      this.timer ??= setTimeout(() => this.merged(), MERGE_MS);
    });
  }

  private onLinkNow(link: WriteLink, writer: string, headers: [string, string][], body: Uint8Array): Promise<Response> {
    return new Promise<Response>((answer) => {
      const seq = link.send(writer, headers, body);
      const timer = setTimeout(() => this.linked.get(seq)?.(unanswered()), LEADER_TIMEOUT_MS);
      this.linked.set(seq, (res) => {
        clearTimeout(timer);
        this.linked.delete(seq);
        answer(res);
      });
    });
  }

  /** MERGE_MS after the first waiting write: it goes, unless a request is on its way (then at its answer, or at HOLD_MAX_MS). */
  private merged() {
    this.due = true;
    if (this.inFlight === 0) return this.flush();
    this.timer = setTimeout(() => this.flush(), HOLD_MAX_MS - MERGE_MS);
  }

  private flush() {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.due = false;
    const batch = this.waiting;
    this.waiting = [];
    this.bytes = 0;
    if (batch.length > 0) void this.send(batch);
  }

  private async send(batch: Waiting[]) {
    this.inFlight++;
    try {
      const body = JSON.stringify({ writes: batch.map(({ write }) => write) });
      const asked = async () => {
        const res = await this.leader()("", { method: "POST", headers: { "content-type": WRITES_TYPE }, body });
        if (!res.ok) throw new Error(`the leader answered ${res.status}: ${await res.text()}`);
        return (await res.json()) as { answers: ForwardedAnswer[] };
      };
      const { answers } = await withTimeout(asked(), LEADER_TIMEOUT_MS);
      batch.forEach(({ answer }, i) => {
        const given = answers[i];
        answer(given ? new Response(given.body === null ? null : fromBase64(given.body), { status: given.status, headers: given.headers }) : unanswered());
      });
    } catch (error) {
      console.error(`party-shard: ${batch.length} routed writes did not reach the leader`, error);
      for (const { answer } of batch) answer(unanswered());
    } finally {
      if (--this.inFlight === 0 && this.due) this.flush();
    }
  }
}

/** Nothing ran, as far as this shard knows: the router sends the write again. */
function unanswered(): Response {
  return new Response("The room did not answer", { status: 503 });
}

export { LINK_WRITE_MAX_BYTES, ShardWrites };
export type { WriteLink };

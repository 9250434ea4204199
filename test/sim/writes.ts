/**
 * Routed writes in the simulation: the router and the client's helper together (edge.ts,
 * client-writes.ts) deliver each write to the shard room holding its socket, again under the same
 * key until answered; and a shard's writes by request (shard-writes.ts, when its link cannot take
 * them) reach the leader's room. `request-drop` loses some of those requests or their answers.
 */
import { WRITE_TIMEOUT_MS } from "../../src/runtime/client-writes.js";
import { ATTEMPT_TIMEOUT_MS, BACKOFF_BASE_MS, BACKOFF_MAX_MS, RETRY_STATUSES } from "../../src/runtime/edge.js";
import { HEADER } from "../../src/runtime/protocol.js";
import { NET, type Actor, type Clock } from "./env.js";
import type { ClientSocket, RoutedWrite } from "./fakes.js";
import type { LeaderRoom, ShardRoom } from "./rooms.js";

const BASE = "http://sim.test";
/**
 * A routed write's delivery, the router's (edge.ts: attempts of at most ATTEMPT_TIMEOUT_MS, again
 * on RETRY_STATUSES, a random backoff up to BACKOFF_BASE_MS × 2^n before attempt n + 1) and the
 * client's helper's (client-writes.ts: WRITE_TIMEOUT_MS in all) together, with the runtime's own
 * numbers; and, the simulation's, how many attempts in all.
 */
const WRITE_MAX_ATTEMPTS = 6;
/** With `request-drop`: the share of the requests carrying writes that are lost (half on their way, half their answer). */
const REQUEST_DROP = 0.1;

/** What a shard's request to the leader carries, for the trace: its writes' idempotency keys (forwarded-writes.ts). */
function writesIn(body: RequestInit["body"]): string {
  try {
    const { writes } = JSON.parse(String(body)) as { writes: { headers: [string, string][] }[] };
    return `writes ${writes.map((write) => write.headers.find(([name]) => name === HEADER.idempotencyKey)?.[1] ?? "?").join(", ")}`;
  } catch {
    return "a request";
  }
}

/** What the writes need of the simulated deployment (world.ts). */
interface WritesWorld {
  readonly clock: Clock;
  readonly shards: ShardRoom[];
  readonly leader: LeaderRoom;
  readonly tracing: boolean;
  /** Bumped by a process restart: whatever was in flight before it is gone. */
  readonly generation: number;
  /** `request-drop` (schedule.ts), until faults stop. */
  readonly dropsRequests: boolean;
  rng(): number;
  latency(): number;
  trace(line: string): void;
  error(what: string, error: unknown): void;
  /** Runs `fn` after `ms` unless the process restarted meanwhile. */
  later(ms: number, fn: () => void): void;
}

class RoutedWrites {
  constructor(private readonly w: WritesWorld) {}

  /**
   * A shard's request to the leader's room (its routed writes when its link cannot take them):
   * the leader's current incarnation takes it one latency later, in a step of its own, and the
   * answer reaches the shard one latency after it is made. Both rooms count it as a call in
   * progress (neither is evicted meanwhile); a leader that dies first never answers (the shard's
   * own timeout answers its writes 503).
   */
  leaderRequest(init: RequestInit, shard: Actor): Promise<Response> {
    shard.pending++;
    return new Promise((resolve, reject) => {
      // The answer (or the failure a thrown handler gives its caller) reaches the shard one latency later.
      const back = (settle: () => void) =>
        this.w.later(this.w.latency(), () => {
          shard.pending--;
          if (!shard.alive) return;
          this.w.clock.current = shard;
          settle();
        });
      const drop = this.drop();
      const lost = () => back(() => reject(new Error("Network connection lost.")));
      if (drop === "request") {
        this.w.trace(`request from ${shard.name} lost on its way: ${writesIn(init.body)}`);
        return lost();
      }
      this.w.later(this.w.latency(), () => {
        const inc = this.w.leader.wake();
        inc.actor.pending++;
        if (this.w.tracing) this.w.trace(`L <- request from ${shard.name}: ${writesIn(init.body)}`);
        inc
          .request(new Request(`${BASE}/parties/main/room`, init))
          .then(async (res) => ({ status: res.status, headers: [...res.headers], body: await res.arrayBuffer() }))
          .then(
            (answer) => {
              inc.actor.pending--;
              if (!inc.actor.alive) return;
              this.w.trace(`L answers ${shard.name}'s request ${answer.status}${drop ? "; the answer is lost" : ""}`);
              if (drop) return lost();
              back(() => resolve(new Response(answer.body.byteLength > 0 ? answer.body : null, { status: answer.status, headers: answer.headers })));
            },
            (error: unknown) => {
              inc.actor.pending--;
              this.w.error("a request failed at the leader", error);
              back(() => reject(error));
            },
          );
      });
    });
  }

  /**
   * A client's routed write: it waits for its socket to open and for the socket's writes before
   * it to be answered (client-writes.ts sends a socket's writes one at a time, in order).
   */
  write(socket: ClientSocket, seq: number, text: string) {
    socket.writes.push({ text, seq, idempotencyKey: `${socket.name}-w${seq}`, attempts: 0, answers: [] });
    this.w.trace(`${socket.name} writes ${text}`);
    this.next(socket);
  }

  /** The socket's next write leaves, unless one is on its way or its socket is not open (once closed, none leaves again). */
  next(socket: ClientSocket) {
    if (socket.writing || socket.openedAt === undefined || !socket.clientOpen) return;
    const write = socket.writes[socket.writeNext];
    if (!write) return;
    socket.writing = true;
    this.attempt(socket, write);
  }

  /**
   * One attempt: the router POSTs the write to the shard room holding the socket, which its
   * current incarnation takes one latency later, in a step of its own (ShardRelay.onRequest); the
   * answer comes back one latency after the shard gives it. No answer within the router's attempt
   * timeout is a timeout.
   */
  private attempt(socket: ClientSocket, write: RoutedWrite) {
    const attempt = ++write.attempts;
    write.sentAt ??= this.w.clock.now;
    let answered = false;
    const answer = (status: RoutedWrite["answers"][number], holder?: string | null) => {
      if (answered) return;
      answered = true;
      this.w.clock.cancel(timeout);
      this.answered(socket, write, status, holder);
    };
    const generation = this.w.generation;
    const timeout = this.w.clock.after(ATTEMPT_TIMEOUT_MS, () => generation === this.w.generation && answer("timeout"), NET);
    // A fetch that fails: the router hears it one latency later.
    const drop = this.drop();
    if (drop === "request") {
      this.w.trace(`${socket.name}'s write ${write.seq} lost on its way to shard${socket.shard} (attempt ${attempt})`);
      return this.w.later(this.w.latency(), () => answer("lost"));
    }
    this.w.later(this.w.latency(), () => {
      const room = this.w.shards[socket.shard]!;
      const inc = room.wake();
      this.w.trace(`shard${socket.shard} <- write ${write.text} (attempt ${attempt})`);
      const headers = {
        "content-type": "text/plain;charset=UTF-8",
        [HEADER.connection]: encodeURIComponent(socket.id),
        [HEADER.key]: socket.key,
        [HEADER.idempotencyKey]: write.idempotencyKey,
        [HEADER.seq]: String(write.seq),
        [HEADER.attempt]: String(attempt),
      };
      const req = new Request(`${BASE}/parties/party-shard-router/room!shard-${socket.shard + 1}`, { method: "POST", headers, body: write.text });
      // A request in progress: the shard is not evicted before it answers.
      inc.actor.pending++;
      Promise.resolve(inc.relay.onRequest(req))
        .then(async (res) => ({ status: res.status, holder: res.headers.get(HEADER.holder), body: await res.text() }))
        .then(
          (res) => {
            inc.actor.pending--;
            if (!inc.actor.alive) return; // died answering: the router hears nothing (its timeout)
            if (this.w.tracing) this.w.trace(`shard${socket.shard} answers ${socket.name}'s write ${write.seq}: ${res.status}${res.holder ? ` (holder ${res.holder})` : ""} ${res.body.slice(0, 60)}${drop ? "; the answer is lost" : ""}`);
            this.w.later(this.w.latency(), () => (drop ? answer("lost") : answer(res.status, res.holder)));
          },
          (error: unknown) => {
            inc.actor.pending--;
            this.w.error(`shard${socket.shard} write of ${socket.name} failed`, error);
          },
        );
    });
  }

  /** The router's reading of an answer, and the client's: done (200, 410, another refusal), or again with the same key after a backoff. */
  private answered(socket: ClientSocket, write: RoutedWrite, status: RoutedWrite["answers"][number], holder?: string | null) {
    write.answers.push(status);
    this.w.trace(`${socket.name}'s write ${write.seq} answered ${status}`);
    // The shard no longer holds the socket (404, holder none): the router answers 425, and the client tries again.
    const retry = status === "timeout" || status === "lost" || (status === 404 && holder === "none") || RETRY_STATUSES.includes(status);
    if (!retry) return this.done(socket, write, status);
    // Its socket is gone: a write of a closed socket goes no more (with its client's next socket it could).
    if (!socket.clientOpen) return this.done(socket, write, "gone");
    if (write.attempts >= WRITE_MAX_ATTEMPTS || this.w.clock.now - write.sentAt! >= WRITE_TIMEOUT_MS) return this.done(socket, write, "gave up");
    const backoff = Math.floor(this.w.rng() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** write.attempts));
    this.w.later(backoff, () => (socket.clientOpen ? this.attempt(socket, write) : this.done(socket, write, "gone")));
  }

  /** With `request-drop`: whether this request is lost, on its way or its answer. */
  private drop(): "request" | "answer" | undefined {
    if (!this.w.dropsRequests || this.w.rng() >= REQUEST_DROP) return undefined;
    return this.w.rng() < 0.5 ? "request" : "answer";
  }

  private done(socket: ClientSocket, write: RoutedWrite, outcome: NonNullable<RoutedWrite["outcome"]>) {
    write.outcome = outcome;
    if (outcome !== 200) this.w.trace(`${socket.name}'s write ${write.seq} ends: ${outcome}`);
    socket.writing = false;
    socket.writeNext++;
    this.next(socket);
  }
}

export { RoutedWrites };
export type { WritesWorld };

/**
 * One simulated deployment: the leader's room, its shards, the links between them and the
 * clients' sockets, on one virtual clock. What clients do and which faults strike is decided by
 * schedule.ts; this file says how each of those reaches the runtime.
 *
 * Every event reaches a room in a step of its own, run by the room's current incarnation, and
 * microtasks drain before the next step (Clock.step): a room never takes an event while a storage
 * call is pending, as a Durable Object's input gate ensures.
 */
import type { LinkEnd, LinkSocket } from "../../src/runtime/host.js";
import { HEADER, parseShardRoom } from "../../src/runtime/protocol.js";
import type { ShardRelay } from "../../src/runtime/shard.js";
import { attribute } from "./check.js";
import { Clock, NET, type Actor } from "./env.js";
import { ClientSocket, type RoutedWrite, type SocketHooks } from "./fakes.js";
import { Link, type LinkWorld } from "./link.js";
import { SOCKET_HEADER, type Observation } from "./party.js";
import type { ShardedModule } from "./partyserver-host.js";
import { LeaderRoom, ShardRoom, type RoomWorld } from "./rooms.js";

const BASE = "http://sim.test";
/**
 * A routed write's delivery, the router's (edge.ts: attempts of at most 10 s, again on
 * RETRY_STATUSES) and the client's helper's (client-writes.ts: backoff, 15 s in all) together:
 * attempts, their timeout, the backoff before attempt n + 1 (random, up to base × 2^n), and the
 * time after which a write has failed.
 */
const WRITE_RETRY_STATUSES = [425, 502, 503, 504];
const WRITE_MAX_ATTEMPTS = 6;
const WRITE_ATTEMPT_TIMEOUT_MS = 10_000;
const WRITE_BACKOFF_BASE_MS = 25;
const WRITE_BACKOFF_MAX_MS = 1_000;
const WRITE_TIMEOUT_MS = 15_000;
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

class World implements LinkWorld, RoomWorld, SocketHooks {
  readonly clock = new Clock();
  /** The order the party's handlers ran in, across leader incarnations: the linearization. */
  readonly log: Observation[] = [];
  /** When each handler ran (virtual ms), to find a divergence's place in the trace. */
  readonly logTimes: number[] = [];
  /** Which leader incarnation ran each handler: a write run twice across a memory loss is the known window (check.ts). */
  readonly logLeaders: string[] = [];
  readonly lines: string[] = [];
  readonly errors: string[] = [];
  readonly sockets: ClientSocket[] = [];
  readonly links: Link[] = [];
  readonly leader: LeaderRoom;
  readonly shards: ShardRoom[];
  /** `request-drop` (schedule.ts), until faults stop: requests carrying writes are lost now and then. */
  dropsRequests = false;
  /** Bumped by a process restart: whatever was in flight before it is gone. */
  private generation = 0;
  /** Who received each message handed to a client, in order (for `dropMessage`); the socket that lost one. */
  readonly receipts: ClientSocket[] = [];
  loser: ClientSocket | undefined;

  constructor(
    readonly rng: () => number,
    shardCount: number,
    startEarly: boolean,
    awaits: boolean,
    partyserver: ShardedModule,
    private readonly tracing: boolean,
    /** Sabotage for the checker's own test: the n-th message a shard hands a client is lost. */
    private readonly dropMessage = 0,
  ) {
    this.leader = new LeaderRoom(this, startEarly, awaits, partyserver);
    this.shards = Array.from({ length: shardCount }, (_, n) => new ShardRoom(this, n, startEarly));
  }

  note(observation: Observation, leader = "") {
    this.log.push(observation);
    this.logTimes.push(this.clock.now);
    this.logLeaders.push(leader);
  }

  latency(): number {
    return 1 + Math.floor(this.rng() * 4);
  }
  trace(line: string) {
    const now = this.clock.now;
    if (this.tracing) this.lines.push(`${Number.isInteger(now) ? now : now.toFixed(2)} ${line}`);
  }
  error(what: string, error: unknown) {
    const line = `${what}: ${error instanceof Error ? error.message : String(error)}`;
    this.errors.push(line);
    this.trace(`! ${line}`);
  }

  /** SocketHooks: true loses this message (only when sabotaged). */
  loses(socket: ClientSocket, shown: string): boolean {
    if (this.receipts.push(socket) !== this.dropMessage) return false;
    this.trace(`sabotage: ${socket.name} loses ${shown}`);
    this.loser = socket;
    return true;
  }

  // ─── Link events at the leader ───

  leaderFrame(end: LinkEnd, raw: string | ArrayBuffer) {
    this.leader.wake().frame(end, raw).catch((error: unknown) => this.error("a frame failed at the leader", error));
  }
  leaderClosed(end: LinkEnd) {
    this.trace(`L sees link ${end.id.slice(-4)} closed`);
    this.leader.wake().closed(end);
  }

  /** A shard opens its link: the leader accepts it, and the shard has it, one latency later. */
  openLink(shard: ShardRoom, path: string): Promise<LinkSocket> {
    const actor = this.clock.current;
    actor.pending++;
    const id = new URLSearchParams(path.slice(path.indexOf("?"))).get("_pk") ?? "?";
    const link = new Link(id, shard.n, actor, this);
    return new Promise((resolve) => {
      this.clock.after(this.latency(), () => {
        actor.pending--;
        if (!actor.alive) return;
        this.links.push(link);
        this.leader.links.set(id, link);
        this.trace(`link ${link.short} open`);
        this.clock.current = actor;
        resolve(link.shardEnd);
      }, NET);
    });
  }

  load(): number[] {
    // What the shards report: their clients, with those whose close the leader has not taken.
    return this.shards.map((shard) => [...shard.storage.map.keys()].filter((key) => key.startsWith("client:")).length);
  }

  /** The leader's request that wakes a shard (one with clients links again), and the shard's answer. */
  wakeShard(room: string): Promise<Response> {
    const shard = this.shards[(parseShardRoom(room)?.shard ?? 0) - 1];
    if (!shard) return Promise.resolve(new Response(null, { status: 404 }));
    return new Promise((resolve) => {
      this.later(this.latency(), () => {
        this.trace(`shard${shard.n} woken`);
        resolve(shard.wake().relay.onRequest(new Request(`${BASE}/`, { method: "POST", headers: { [HEADER.link]: "wake" } })));
      });
    });
  }

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
        this.later(this.latency(), () => {
          shard.pending--;
          if (!shard.alive) return;
          this.clock.current = shard;
          settle();
        });
      const drop = this.drop();
      const lost = () => back(() => reject(new Error("Network connection lost.")));
      if (drop === "request") {
        this.trace(`request from ${shard.name} lost on its way: ${writesIn(init.body)}`);
        return lost();
      }
      this.later(this.latency(), () => {
        const inc = this.leader.wake();
        inc.actor.pending++;
        if (this.tracing) this.trace(`L <- request from ${shard.name}: ${writesIn(init.body)}`);
        inc
          .request(new Request(`${BASE}/parties/main/room`, init))
          .then(async (res) => ({ status: res.status, headers: [...res.headers], body: await res.arrayBuffer() }))
          .then(
            (answer) => {
              inc.actor.pending--;
              if (!inc.actor.alive) return;
              this.trace(`L answers ${shard.name}'s request ${answer.status}${drop ? "; the answer is lost" : ""}`);
              if (drop) return lost();
              back(() => resolve(new Response(answer.body.byteLength > 0 ? answer.body : null, { status: answer.status, headers: answer.headers })));
            },
            (error: unknown) => {
              inc.actor.pending--;
              this.error("a request failed at the leader", error);
              back(() => reject(error));
            },
          );
      });
    });
  }

  // ─── Clients ───

  /** A client's socket: the shard's platform accepts it and calls onConnect one latency later. */
  connect(id: string, key: string, name: string, shard: number): ClientSocket {
    const socket = new ClientSocket(name, id, key, shard, this);
    this.sockets.push(socket);
    this.trace(`${name} connects to shard${shard}`);
    this.fromClient(socket, (relay, room) => {
      room.sockets.push(socket);
      const headers = { [HEADER.uri]: `${BASE}/parties/main/room?_pk=${id}&_psk=${key}`, [SOCKET_HEADER]: name };
      const opened = relay.onConnect(socket, { request: new Request(`${BASE}${new URL(socket.uri).pathname}?_pk=${id}`, { headers }) });
      // Both platforms send the 101 once onConnect has settled: only then does the client see it open.
      // An onConnect that throws: the platform closes the client's socket 1011 instead.
      return Promise.resolve(opened).then(
        () => {
          if (!socket.clientOpen) return;
          socket.openedAt = this.clock.now;
          socket.unsent.splice(0).forEach((text) => this.say(socket, text));
          this.nextWrite(socket);
        },
        () => socket.close(1011, "Uncaught exception during session setup"),
      );
    });
    return socket;
  }
  say(socket: ClientSocket, text: string) {
    if (socket.openedAt === undefined) return void socket.unsent.push(text);
    socket.sent.push(text);
    socket.sentAt.push(this.clock.now);
    this.trace(`${socket.name} says ${text}`);
    this.fromClient(socket, (relay) => (socket.readyState === 3 ? undefined : relay.onMessage(socket, text)));
  }

  // ─── Routed writes (sendViaRouter), the router and the client's helper together ───

  /**
   * A client's routed write: it waits for its socket to open and for the socket's writes before
   * it to be answered (client-writes.ts sends a socket's writes one at a time, in order).
   */
  write(socket: ClientSocket, seq: number, text: string) {
    socket.writes.push({ text, seq, idempotencyKey: `${socket.name}-w${seq}`, attempts: 0, answers: [] });
    this.trace(`${socket.name} writes ${text}`);
    this.nextWrite(socket);
  }

  /** The socket's next write leaves, unless one is on its way or its socket is not open (once closed, none leaves again). */
  private nextWrite(socket: ClientSocket) {
    if (socket.writing || socket.openedAt === undefined || !socket.clientOpen) return;
    const write = socket.writes[socket.writeNext];
    if (!write) return;
    socket.writing = true;
    this.attemptWrite(socket, write);
  }

  /**
   * One attempt: the router POSTs the write to the shard room holding the socket, which its
   * current incarnation takes one latency later, in a step of its own (ShardRelay.onRequest); the
   * answer comes back one latency after the shard gives it. No answer within the router's attempt
   * timeout is a timeout.
   */
  private attemptWrite(socket: ClientSocket, write: RoutedWrite) {
    const attempt = ++write.attempts;
    write.sentAt ??= this.clock.now;
    let answered = false;
    const answer = (status: RoutedWrite["answers"][number], holder?: string | null) => {
      if (answered) return;
      answered = true;
      this.clock.cancel(timeout);
      this.writeAnswered(socket, write, status, holder);
    };
    const generation = this.generation;
    const timeout = this.clock.after(WRITE_ATTEMPT_TIMEOUT_MS, () => generation === this.generation && answer("timeout"), NET);
    // A fetch that fails: the router hears it one latency later.
    const drop = this.drop();
    if (drop === "request") {
      this.trace(`${socket.name}'s write ${write.seq} lost on its way to shard${socket.shard} (attempt ${attempt})`);
      return this.later(this.latency(), () => answer("lost"));
    }
    this.later(this.latency(), () => {
      const room = this.shards[socket.shard]!;
      const inc = room.wake();
      this.trace(`shard${socket.shard} <- write ${write.text} (attempt ${attempt})`);
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
            if (this.tracing) this.trace(`shard${socket.shard} answers ${socket.name}'s write ${write.seq}: ${res.status}${res.holder ? ` (holder ${res.holder})` : ""} ${res.body.slice(0, 60)}${drop ? "; the answer is lost" : ""}`);
            this.later(this.latency(), () => (drop ? answer("lost") : answer(res.status, res.holder)));
          },
          (error: unknown) => {
            inc.actor.pending--;
            this.error(`shard${socket.shard} write of ${socket.name} failed`, error);
          },
        );
    });
  }

  /** The router's reading of an answer, and the client's: done (200, 410, another refusal), or again with the same key after a backoff. */
  private writeAnswered(socket: ClientSocket, write: RoutedWrite, status: RoutedWrite["answers"][number], holder?: string | null) {
    write.answers.push(status);
    this.trace(`${socket.name}'s write ${write.seq} answered ${status}`);
    // The shard no longer holds the socket (404, holder none): the router answers 425, and the client tries again.
    const retry = status === "timeout" || status === "lost" || (status === 404 && holder === "none") || WRITE_RETRY_STATUSES.includes(status);
    if (!retry) return this.writeDone(socket, write, status);
    // Its socket is gone: a write of a closed socket goes no more (with its client's next socket it could).
    if (!socket.clientOpen) return this.writeDone(socket, write, "gone");
    if (write.attempts >= WRITE_MAX_ATTEMPTS || this.clock.now - write.sentAt! >= WRITE_TIMEOUT_MS) return this.writeDone(socket, write, "gave up");
    const backoff = Math.floor(this.rng() * Math.min(WRITE_BACKOFF_MAX_MS, WRITE_BACKOFF_BASE_MS * 2 ** write.attempts));
    this.later(backoff, () => (socket.clientOpen ? this.attemptWrite(socket, write) : this.writeDone(socket, write, "gone")));
  }

  /** With `request-drop`: whether this request is lost, on its way or its answer. */
  private drop(): "request" | "answer" | undefined {
    if (!this.dropsRequests || this.rng() >= REQUEST_DROP) return undefined;
    return this.rng() < 0.5 ? "request" : "answer";
  }

  private writeDone(socket: ClientSocket, write: RoutedWrite, outcome: NonNullable<RoutedWrite["outcome"]>) {
    write.outcome = outcome;
    if (outcome !== 200) this.trace(`${socket.name}'s write ${write.seq} ends: ${outcome}`);
    socket.writing = false;
    socket.writeNext++;
    this.nextWrite(socket);
  }

  /** The client closes; `extra` holds its close back (it overtakes nothing sent before it). */
  clientClose(socket: ClientSocket, code: number, extra = 0) {
    this.trace(`${socket.name} closes ${code}${extra ? ` (seen ${extra} ms late)` : ""}`);
    socket.endForClient("client", code);
    this.closeEventAfter(socket, code, "bye", extra);
  }
  /** SocketHooks: the shard closed the socket; its client answers, then the platform calls onClose. */
  closeEvent(socket: ClientSocket, code: number, reason: string) {
    this.closeEventAfter(socket, code, reason, this.latency());
  }
  private closeEventAfter(socket: ClientSocket, code: number, reason: string, extra: number) {
    if (socket.closeEventDue) return;
    socket.closeEventDue = true;
    this.fromClient(socket, (relay) => {
      socket.readyState = 3;
      return relay.onClose(socket, code, reason);
    }, extra);
  }

  /** An event from a client's socket to its shard: after the ones it sent before (FIFO). */
  private fromClient(socket: ClientSocket, run: (relay: ShardRelay, room: ShardRoom) => unknown, extra = 0) {
    const arrival = Math.max(this.clock.now + this.latency() + extra, socket.lastArrival);
    socket.lastArrival = arrival;
    this.later(arrival - this.clock.now, () => {
      const room = this.shards[socket.shard]!;
      this.settle(run(room.wake().relay, room), `shard${socket.shard} event of ${socket.name}`);
    });
  }

  /** Runs `fn` after `ms` unless the process restarted meanwhile. */
  private later(ms: number, fn: () => void) {
    const generation = this.generation;
    this.clock.after(ms, () => generation === this.generation && fn(), NET);
  }
  private settle(result: unknown, what: string) {
    if (result instanceof Promise) result.catch((error: unknown) => this.error(`${what} failed`, error));
  }

  // ─── Faults ───

  /** The whole process restarts: every socket closes, every memory is lost, storage stays. */
  restart() {
    this.generation++;
    this.trace("process restarts");
    this.leader.evict(true);
    for (const shard of this.shards) shard.evict(true);
    for (const link of this.links) link.kill();
    this.leader.links.clear();
    // Sockets whose onClose already ran keep their whole story; the others may lose its end.
    const owners = attribute(this.log);
    const closed = new Set(this.log.flatMap((o, i) => (o.h === "close" ? [owners[i]] : [])));
    for (const socket of this.sockets) {
      // A write on its way is lost with everything else: its socket is gone.
      if (socket.writing) socket.writes[socket.writeNext]!.outcome = "gone";
      socket.writing = false;
      if (!closed.has(socket.name)) socket.restartHit = true;
      if (socket.readyState === 3) continue;
      socket.readyState = 3;
      socket.endForClient("restart", 1012);
    }
    this.note({ h: "restart", id: "" });
  }
}

export { World };

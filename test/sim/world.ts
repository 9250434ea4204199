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
import { RoutedWrites } from "./writes.js";

const BASE = "http://sim.test";
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
  private readonly writes = new RoutedWrites(this);
  /** Bumped by a process restart: whatever was in flight before it is gone. */
  generation = 0;
  /** Who received each message handed to a client, in order (for `dropMessage`); the socket that lost one. */
  readonly receipts: ClientSocket[] = [];
  loser: ClientSocket | undefined;

  constructor(
    readonly rng: () => number,
    shardCount: number,
    startEarly: boolean,
    awaits: boolean,
    partyserver: ShardedModule,
    readonly tracing: boolean,
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

  /** A shard's request to the leader's room (writes.ts). */
  leaderRequest(init: RequestInit, shard: Actor): Promise<Response> {
    return this.writes.leaderRequest(init, shard);
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
          this.writes.next(socket);
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

  /** A client's routed write (writes.ts). */
  write(socket: ClientSocket, seq: number, text: string) {
    this.writes.write(socket, seq, text);
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
  later(ms: number, fn: () => void) {
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

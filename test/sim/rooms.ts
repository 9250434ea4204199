/**
 * The leader's room and the shards' rooms, as their platform runs them: storage that outlives
 * the object's memory, and an incarnation (the leader's host with the party, or a ShardRelay) made
 * on the room's first event and lost when the room is evicted. Accepted sockets survive eviction (they
 * hibernate): the leader keeps its links, a shard its clients.
 */
import type { LinkEnd, ShardHost } from "../../src/runtime/host.js";
import { parseShardRoom } from "../../src/runtime/protocol.js";
import { ShardRelay } from "../../src/runtime/shard.js";
import type { Actor } from "./env.js";
import { MemStorage, type ClientSocket } from "./fakes.js";
import type { Link } from "./link.js";
import type { Observation } from "./party.js";
import { partykitLeader, partykitShardHost, type Parties } from "./partykit-host.js";
import { partyserverLeader, type LinkWebSocket, type ShardedModule } from "./partyserver-host.js";

/** The router party's name, as partykit.json lists it. */
const ROUTER = "party-shard-router";

/** What the rooms need of the world around them. */
interface RoomWorld {
  readonly clock: { current: Actor };
  /** A handler of the party ran, at that leader incarnation: the linearization grows. */
  note(observation: Observation, leader: string): void;
  readonly links: Link[];
  trace(line: string): void;
  wakeShard(room: string): Promise<Response>;
  /** Clients per shard, as the placement room knows them. */
  load(): number[];
  openLink(shard: ShardRoom, path: string): Promise<import("../../src/runtime/host.js").LinkSocket>;
  /** A shard's request to the leader's room (its routed writes by request, shard-writes.ts). */
  leaderRequest(init: RequestInit, from: Actor): Promise<Response>;
}

/** The placement room's answer to a load report: nothing here depends on it. */
const LOAD_ANSWER = Promise.resolve(new Response(null, { status: 204 }));
/**
 * How long an object must have run no code (no event, no timer) before the platform may evict
 * it: about 10 s (RUNTIME-FACTS.md). Never within the milliseconds a frame takes to cross.
 */
const EVICT_IDLE_MS = 10_000;
const idle = (actor: Actor, now: number) => actor.pending === 0 && now - (actor.lastRan ?? 0) >= EVICT_IDLE_MS;

interface LeaderIncarnation {
  actor: Actor;
  /** A link message, and a link's close, reach the room (the host's handlers, or the core's). */
  frame(end: LinkEnd, raw: string | ArrayBuffer): Promise<void>;
  closed(end: LinkEnd): void;
  /** A request reaches the room (the host's onRequest, or fetch). */
  request(req: Request): Promise<Response>;
}

class LeaderRoom {
  readonly storage = new MemStorage();
  /** Links the leader accepted, by id: hibernated, they outlive its memory. */
  readonly links = new Map<string, Link>();
  inc: LeaderIncarnation | undefined;
  private made = 0;

  /** The links' leader ends as the platform holds them (PartyServer: hibernatable WebSockets), kept across evictions. */
  private readonly sockets = new WeakMap<LinkEnd, LinkWebSocket>();

  constructor(
    private readonly w: RoomWorld,
    /** PartyKit starts a room (onStart, the core's start) before its first event; PartyServer when a frame needs it (host.ready). */
    private readonly startEarly: boolean,
    private readonly awaits: boolean,
    /** PartyServer's host (sharded-server.ts), loaded with the platform's fakes. */
    private readonly partyserver: ShardedModule,
  ) {}

  /** The incarnation that takes the next event: made afresh after an eviction. */
  wake(): LeaderIncarnation {
    if (!this.inc) this.inc = this.make();
    this.w.clock.current = this.inc.actor;
    return this.inc;
  }

  /** Evicted: memory lost, storage and links kept. Only when idle, unless the process dies. */
  evict(force = false): boolean {
    if (!this.inc || (!force && !idle(this.inc.actor, this.w.clock.now))) return false;
    this.inc.actor.alive = false;
    this.w.trace(`${this.inc.actor.name} evicted`);
    this.inc = undefined;
    return true;
  }

  private make(): LeaderIncarnation {
    const actor: Actor = { name: `leader#${++this.made}`, alive: true, pending: 0 };
    this.w.clock.current = actor;
    const open = () => [...this.links.values()].filter((link) => link.listedAtLeader).map((link) => link.leaderEnd);
    // The placement room: clients per shard (shard n at index n - 1), as the shards report them; a shard's room wakes it.
    const routerRoom = (room: string) => (parseShardRoom(room) === undefined ? Promise.resolve(Response.json({ load: this.w.load() })) : this.w.wakeShard(room));
    const note = (observation: Observation) => {
      if (actor.alive) this.w.note(observation, actor.name);
    };
    this.w.trace(`${actor.name} starts${this.startEarly ? " (onStart first)" : ""}`);
    if (this.startEarly) {
      // PartyKit's order: the room starts before its first event. Its host runs as users run it.
      const parties: Parties = { [ROUTER]: { get: (room) => ({ fetch: () => routerRoom(room) }) } };
      const leader = partykitLeader({ storage: this.storage, links: open, parties, note, awaits: this.awaits });
      leader.start();
      return { actor, frame: leader.frame, closed: leader.closed, request: leader.request };
    }
    // PartyServer's order: the room starts when a frame needs it (host.ready). Its host runs as users run it.
    const leader = partyserverLeader(this.partyserver, { storage: this.storage, links: open, sockets: this.sockets, routerRoom, note, awaits: this.awaits });
    return { actor, frame: leader.frame, closed: leader.closed, request: leader.request };
  }
}

interface ShardIncarnation {
  actor: Actor;
  relay: ShardRelay;
}

class ShardRoom {
  readonly storage = new MemStorage();
  /** Its client sockets, in the order they came: the platform lists the open ones. */
  readonly sockets: ClientSocket[] = [];
  readonly host: ShardHost;
  inc: ShardIncarnation | undefined;
  private made = 0;

  constructor(
    private readonly w: RoomWorld,
    readonly n: number,
    /** Its room as PartyKit's router party gives it (partykit.ts), or a fake host of the same shape. */
    partykit: boolean,
  ) {
    const connections = (tag?: string) => this.sockets.filter((socket) => socket.readyState === 1 && (tag === undefined || socket.id === tag));
    const openLink = (path: string) => this.w.openLink(this, path);
    // The leader's room: a request to it (PartyKit's stub.fetch(init) for the room itself; sharded-server.ts roomOf on PartyServer).
    const toLeader = (init: unknown) => this.w.leaderRequest(init as RequestInit, this.inc?.actor ?? this.w.clock.current);
    this.host = partykit
      ? partykitShardHost({
          storage: this.storage,
          connections,
          parties: { main: { get: () => ({ fetch: (pathOrInit, init) => toLeader(typeof pathOrInit === "string" ? init : pathOrInit), socket: openLink }) }, [ROUTER]: { get: () => ({ fetch: () => LOAD_ANSWER }) } },
        })
      : { party: "main", storage: this.storage, connections, openLink: (_room, path) => openLink(path), routerRoom: () => () => LOAD_ANSWER, leaderRoom: () => (_path, init) => toLeader(init) };
  }

  wake(): ShardIncarnation {
    if (!this.inc) {
      const actor: Actor = { name: `shard${this.n}#${++this.made}`, alive: true, pending: 0 };
      this.w.clock.current = actor;
      // Shards are numbered from 1, as the router numbers them.
      this.inc = { actor, relay: new ShardRelay(this.host, "room", this.n + 1) };
      this.w.trace(`${actor.name} starts`);
    }
    this.w.clock.current = this.inc.actor;
    return this.inc;
  }

  /**
   * Evicted: its relay's memory is lost; its clients' sockets stay. Only when idle: no timer, no
   * call out, and no outgoing WebSocket (the platform keeps an object holding one in memory, a
   * broken one too until its close event came), so unless the process dies, a shard with a link is
   * never evicted.
   */
  evict(force = false): boolean {
    if (!this.inc || (!force && !idle(this.inc.actor, this.w.clock.now))) return false;
    const actor = this.inc.actor;
    if (!force && this.w.links.some((link) => link.opener === actor && link.heldByShard)) return false;
    actor.alive = false;
    this.w.trace(`${actor.name} evicted`);
    for (const link of this.w.links) if (link.opener === actor) link.drop();
    this.inc = undefined;
    return true;
  }
}

export { LeaderRoom, ShardRoom };
export type { RoomWorld };

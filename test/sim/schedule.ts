/**
 * One schedule: from a seed, 1–3 shards, 1–6 clients and 5–40 client actions (connect, message,
 * routed write, close, reconnect with the same id and key), interleaved with clock advances and
 * the enabled faults. After the last action faults stop, the clock runs until nothing is left to
 * do, and the run is checked against the reference (check.ts).
 */
import { check, type Divergence } from "./check.js";
import { NET, install, mulberry32 } from "./env.js";
import type { ClientSocket } from "./fakes.js";
import { OPS } from "./party.js";
import { loadPartyServer } from "./partyserver-host.js";
import { World } from "./world.js";

/**
 * What may happen besides clients connecting, talking and leaving, each switchable (all on by
 * default). Three are not faults but ways of the app and its clients that meet known divergences:
 * - `await`: the party's handlers await storage mid-way (read-modify-write counters); off, they
 *   write storage without awaiting, one key per event;
 * - `reconnect`: a client's later sockets keep its id and key (as partysocket reconnects); off,
 *   every socket has an id of its own;
 * - `write`: a quarter of what clients say goes as routed writes (sendViaRouter: through the
 *   router and the socket's shard to the leader, retried under its idempotency key) instead of
 *   on the socket; off, the schedules are those from before writes were simulated.
 * `squat` is an attacker: a socket with a client's id and a key of its own, on any shard, which
 * the runtime must refuse, or let hold a free id until its owner comes back. `request-drop`
 * strikes requests, not at a moment of the schedule: while faults last, a tenth of the requests
 * that carry routed writes (the router's to a shard, a shard's to the leader) are lost, on their
 * way or their answer, as a Durable Object's fetch can fail; the caller sees it fail and the
 * router sends the write again under its key (without `write`, there are none).
 */
const FAULT_KINDS = ["await", "reconnect", "write", "link-drop", "link-delay", "shard-evict", "leader-evict", "restart", "squat", "request-drop"] as const;
type FaultKind = (typeof FAULT_KINDS)[number];
/** Kinds the driver does not strike at a moment of its own: ways of the app, and request drops (per request). */
const NOT_MOMENTS = ["await", "reconnect", "write", "request-drop"] as const;

interface ScheduleOptions {
  faults: readonly FaultKind[];
  /** Keep a trace of every step (for a report, or to compare two runs). */
  trace?: boolean;
  /** Only to prove the checker fails: the n-th message a shard hands a client is lost. */
  dropMessage?: number;
}
interface ScheduleResult {
  seed: number;
  divergence: Divergence | undefined;
  trace: string[];
  /** What the runtime logged as errors, and listeners or steps that threw. */
  errors: string[];
  /** The linearization, for comparing two runs of one seed. */
  log: string;
  shape: string;
  /** With `dropMessage`: the socket that lost a message. */
  sabotaged?: string;
  /** Which messages handed to clients (1, 2, …) went to sockets open at the end: losing one is a sure divergence. */
  openReceipts: number[];
}

/** A run that takes longer than this (steps, or virtual time) never settled: a livelock. */
const MAX_STEPS = 200_000;
const MAX_VIRTUAL_MS = 3_600_000;

interface Client {
  id: string;
  key: string;
  made: number;
  /** Routed writes made with its key: the next one's number (write-memory.ts numbers per key, across the key's sockets). */
  wrote: number;
  socket?: ClientSocket;
}

class Driver {
  private readonly clients: Client[];
  private said = 0;
  private squats = 0;
  /** Evictions asked for and not done yet: a room is evicted only when idle (no timer, no call out). */
  private readonly evictions = new Set<number | "leader">();

  constructor(
    private readonly w: World,
    private readonly rng: () => number,
    clientCount: number,
    private readonly faults: readonly FaultKind[],
  ) {
    this.clients = Array.from({ length: clientCount }, (_, i) => ({ id: `c${i}`, key: `k${i}x${Math.floor(rng() * 1e6)}`, made: 0, wrote: 0 }));
  }

  tick(left: number) {
    this.tryEvictions();
    if (left <= 0) {
      this.evictions.clear();
      this.w.dropsRequests = false;
      return this.w.trace("faults stop; running until quiet");
    }
    const faults = this.faults.filter((kind) => !(NOT_MOMENTS as readonly string[]).includes(kind));
    if (faults.length > 0 && this.rng() < 0.25) this.fault(this.pick(faults));
    else this.act();
    const r = this.rng();
    // Mostly back to back; sometimes a pause; sometimes a long one (past the leader's resync
    // timeout); with evictions, now and then a quiet long enough for the platform to evict.
    const evicting = this.evictions.size > 0 && this.rng() < 0.3;
    const gap = evicting ? 10_000 + Math.floor(this.rng() * 6000) : r < 0.7 ? Math.floor(this.rng() * 20) : r < 0.9 ? 20 + Math.floor(this.rng() * 200) : 200 + Math.floor(this.rng() * 6000);
    this.w.clock.after(gap, () => this.tick(left - 1), NET);
  }

  private act() {
    const open = this.clients.filter((c) => c.socket?.clientOpen);
    const idle = this.clients.filter((c) => !c.socket?.clientOpen);
    if (idle.length > 0 && (open.length === 0 || this.rng() < 0.25)) return this.connect(this.pick(idle));
    if (open.length === 0) return;
    const client = this.pick(open);
    const socket = client.socket!;
    const r = this.rng();
    // Without `write`, the same draws as before writes were simulated: those schedules stay as they were.
    if (r < 0.17 && this.faults.includes("write")) return this.write(client, socket);
    if (r < 0.68) return this.say(socket);
    if (r < 0.84) return this.w.clientClose(socket, this.pick([1000, 4000, 4001]));
    // A reconnect: the old socket closes (its close may reach the shard late) and a new one opens.
    this.w.clientClose(socket, 1000, this.rng() < 0.5 ? 0 : 5 + Math.floor(this.rng() * 100));
    this.connect(client, this.rng() < 0.5 ? socket.shard : undefined);
  }

  private connect(client: Client, shard?: number) {
    client.made++;
    const id = this.faults.includes("reconnect") ? client.id : `${client.id}-${client.made}`;
    client.socket = this.w.connect(id, client.key, `${client.id}.${client.made}`, shard ?? Math.floor(this.rng() * this.w.shards.length));
  }

  private say(socket: ClientSocket) {
    const op = this.pick(OPS);
    const to = this.pick(this.clients);
    const arg = op === "dm" ? `:${to.socket?.id ?? to.id}` : "";
    this.w.say(socket, `${socket.name}#${++this.said}:${op}${arg}`);
  }

  /** A routed write, with what a message would say: `w:<socket>:<seq>#<n>:<op>[:<arg>]` (party.ts). */
  private write(client: Client, socket: ClientSocket) {
    const op = this.pick(OPS);
    const to = this.pick(this.clients);
    const arg = op === "dm" ? `:${to.socket?.id ?? to.id}` : "";
    const seq = ++client.wrote;
    this.w.write(socket, seq, `w:${socket.name}:${seq}#${++this.said}:${op}${arg}`);
  }

  private fault(kind: FaultKind) {
    const up = this.w.links.filter((link) => link.up);
    if (kind === "link-drop" && up.length > 0) this.pick(up).drop();
    if (kind === "link-delay" && up.length > 0) {
      const link = this.pick(up);
      link.extraMs = 5 + Math.floor(this.rng() * (this.rng() < 0.8 ? 200 : 3000));
      link.extraUntil = this.w.clock.now + 10 + Math.floor(this.rng() * 2000);
      this.w.trace(`link ${link.short} delayed ${link.extraMs} ms until ${link.extraUntil}`);
    }
    if (kind === "shard-evict") this.evictions.add(Math.floor(this.rng() * this.w.shards.length));
    if (kind === "leader-evict") this.evictions.add("leader");
    if (kind === "restart") this.w.restart();
    if (kind === "squat") {
      const victim = this.pick(this.clients);
      const n = ++this.squats;
      const squatter = this.w.connect(victim.socket?.id ?? victim.id, `squatter-key-${n}`, `squatter${n}`, Math.floor(this.rng() * this.w.shards.length));
      // With writes, it also writes with its own key (once open, if ever): that may run only as its own connection.
      if (this.faults.includes("write")) this.w.write(squatter, 1, `w:${squatter.name}:1#${++this.said}:${this.pick(OPS)}`);
    }
    this.tryEvictions();
  }

  private tryEvictions() {
    for (const which of this.evictions) {
      const room = which === "leader" ? this.w.leader : this.w.shards[which]!;
      if (!room.inc || room.evict()) this.evictions.delete(which);
    }
  }

  private pick<T>(list: readonly T[]): T {
    return list[Math.floor(this.rng() * list.length)]!;
  }
}

async function runSchedule(seed: number, options: ScheduleOptions): Promise<ScheduleResult> {
  const rng = mulberry32(seed);
  const shardCount = 1 + Math.floor(rng() * 3);
  const clientCount = 1 + Math.floor(rng() * 6);
  const actions = 5 + Math.floor(rng() * 36);
  const startEarly = rng() < 0.5;
  const awaits = options.faults.includes("await");
  const w = new World(rng, shardCount, startEarly, awaits, await loadPartyServer(), options.trace ?? false, options.dropMessage);
  w.dropsRequests = options.faults.includes("request-drop");
  const driver = new Driver(w, rng, clientCount, options.faults);
  // The runtime's own randomness (uuids, backoff) from a stream of its own: the schedule's choices do not shift with it.
  const restore = install(w.clock, mulberry32(seed ^ 0x5bd1e995), (line) => {
    w.trace(line);
    if (line.startsWith("console.error")) w.errors.push(line);
  });
  const rejected = (reason: unknown) => w.error("unhandled rejection", reason);
  process.on("unhandledRejection", rejected);
  let settled = true;
  try {
    w.clock.after(0, () => driver.tick(actions), NET);
    for (let steps = 0; await w.clock.step((error) => w.error("a step threw", error)); steps++) {
      if (steps > MAX_STEPS || w.clock.now > MAX_VIRTUAL_MS) {
        settled = false;
        break;
      }
    }
  } finally {
    process.off("unhandledRejection", rejected);
    restore();
  }
  const divergence = await check(w, settled, awaits);
  const shape = `${shardCount} shard(s), ${clientCount} client(s), ${actions} actions, ${w.sockets.length} sockets, ${w.log.length} handler calls, leader ${startEarly ? "starts first" : "starts on demand"}`;
  const openReceipts = w.receipts.flatMap((socket, i) => (socket.closedFirstBy === undefined && !socket.restartHit ? [i + 1] : []));
  const result = { seed, divergence, trace: w.lines, errors: w.errors, log: JSON.stringify(w.log), shape, openReceipts };
  return w.loser ? { ...result, sabotaged: w.loser.name } : result;
}

export { FAULT_KINDS, runSchedule };
export type { FaultKind, ScheduleOptions, ScheduleResult };

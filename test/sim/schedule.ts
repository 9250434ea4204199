/**
 * One schedule: from a seed, 1–3 shards, 1–6 clients and 5–40 client actions (connect, message,
 * close, reconnect with the same id and key), interleaved with clock advances and the enabled
 * faults. After the last action faults stop, the clock runs until nothing is left to do, and the
 * run is checked against the reference (check.ts).
 */
import { check, type Divergence } from "./check.js";
import { NET, install, mulberry32 } from "./env.js";
import type { ClientSocket } from "./fakes.js";
import { OPS } from "./party.js";
import { loadPartyServer } from "./partyserver-host.js";
import { World } from "./world.js";

/**
 * What may happen besides clients connecting, talking and leaving, each switchable (all on by
 * default). Two are not faults but ways of the app and its clients that meet known divergences:
 * - `await`: the party's handlers await storage mid-way (read-modify-write counters); off, they
 *   write storage without awaiting, one key per event;
 * - `reconnect`: a client's later sockets keep its id and key (as partysocket reconnects); off,
 *   every socket has an id of its own.
 * `squat` is an attacker: a socket with a client's id and a key of its own, on any shard, which
 * the runtime must refuse, or let hold a free id until its owner comes back.
 */
const FAULT_KINDS = ["await", "reconnect", "link-drop", "link-delay", "shard-evict", "leader-evict", "restart", "squat"] as const;
type FaultKind = (typeof FAULT_KINDS)[number];

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
    this.clients = Array.from({ length: clientCount }, (_, i) => ({ id: `c${i}`, key: `k${i}x${Math.floor(rng() * 1e6)}`, made: 0 }));
  }

  tick(left: number) {
    this.tryEvictions();
    if (left <= 0) {
      this.evictions.clear();
      return this.w.trace("faults stop; running until quiet");
    }
    const faults = this.faults.filter((kind) => kind !== "reconnect" && kind !== "await");
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
      this.w.connect(victim.socket?.id ?? victim.id, `squatter-key-${n}`, `squatter${n}`, Math.floor(this.rng() * this.w.shards.length));
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

/**
 * The simulator's world clock and randomness. While a schedule runs, timers, Date.now,
 * Math.random, crypto.randomUUID and crypto.subtle.digest are replaced by virtual, seeded ones,
 * so a seed alone decides every order: nothing real-time or thread-pool-based does.
 *
 * Every timer belongs to an actor (a leader or shard incarnation, or the network). An actor that
 * died (evicted, restarted) never runs again: its timers are skipped, as a dead isolate's are.
 */
import { createHash } from "node:crypto";

interface Actor {
  readonly name: string;
  alive: boolean;
  /** Timers and outbound calls still owed to it: an actor is idle (evictable) at 0. */
  pending: number;
  /** When its code last ran (an event, a timer): the platform evicts only objects idle for a while. */
  lastRan?: number;
}
const NET: Actor = { name: "net", alive: true, pending: 0 };

interface Timer {
  id: number;
  time: number;
  seq: number;
  fn: () => void;
  owner: Actor;
  cancelled: boolean;
}

/** Drains microtasks: the saved real setImmediate runs only once every promise job has run. */
const realSetImmediate = setImmediate;
const drain = () => new Promise<void>((resolve) => realSetImmediate(resolve));

/** Small, fast, good enough for schedules: mulberry32. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A virtual clock with one queue of timers, earliest first (ties in the order they were set). */
class Clock {
  now = 0;
  /** The actor whose code runs now: timers set meanwhile are its. */
  private running: Actor = NET;
  get current(): Actor {
    return this.running;
  }
  set current(actor: Actor) {
    actor.lastRan = this.now;
    this.running = actor;
  }
  private readonly heap: Timer[] = [];
  private readonly byId = new Map<number, Timer>();
  private seq = 0;

  at(time: number, fn: () => void, owner: Actor = this.current): number {
    const timer = { id: ++this.seq, time: Math.max(time, this.now), seq: this.seq, fn, owner, cancelled: false };
    owner.pending++;
    this.byId.set(timer.id, timer);
    this.push(timer);
    return timer.id;
  }
  after(ms: number, fn: () => void, owner?: Actor): number {
    return this.at(this.now + Math.max(0, Number.isFinite(ms) ? ms : 0), fn, owner);
  }
  cancel(id: unknown) {
    const timer = this.byId.get(id as number);
    if (!timer || timer.cancelled) return;
    timer.cancelled = true;
    timer.owner.pending--;
    this.byId.delete(timer.id);
  }
  get empty(): boolean {
    return this.byId.size === 0;
  }

  /** Runs the next timer (skipped if its actor died), then drains microtasks. False when none is left. */
  async step(onError: (error: unknown) => void): Promise<boolean> {
    let timer: Timer | undefined;
    do timer = this.pop();
    while (timer?.cancelled);
    if (!timer) return false;
    this.byId.delete(timer.id);
    timer.owner.pending--;
    this.now = timer.time;
    if (!timer.owner.alive) return true;
    this.current = timer.owner;
    try {
      timer.fn();
    } catch (error) {
      onError(error);
    }
    await drain();
    this.current = NET;
    return true;
  }

  private less(a: Timer, b: Timer) {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }
  private push(timer: Timer) {
    const heap = this.heap;
    heap.push(timer);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }
  private pop(): Timer | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }
}

/** Node 20 has no CloseEvent; the leader makes one for each remote close. */
class SimCloseEvent extends Event {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

function uuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = "4";
  return `${hex.slice(0, 8).join("")}-${hex.slice(8, 12).join("")}-${hex.slice(12, 16).join("")}-${hex.slice(16, 20).join("")}-${hex.slice(20).join("")}`;
}

function digest(algorithm: AlgorithmIdentifier, data: BufferSource): Promise<ArrayBuffer> {
  const name = (typeof algorithm === "string" ? algorithm : algorithm.name).replace("-", "").toLowerCase();
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const hash = createHash(name).update(bytes).digest();
  return Promise.resolve(hash.buffer.slice(hash.byteOffset, hash.byteOffset + hash.byteLength));
}

/**
 * Replaces the globals the runtime reads with the clock's and the seed's; `log` gets what the
 * runtime writes to the console. Returns the function that puts everything back.
 */
function install(clock: Clock, random: () => number, log: (line: string) => void): () => void {
  const undo: (() => void)[] = [];
  const patch = (target: object, key: string, value: unknown) => {
    const saved = Object.getOwnPropertyDescriptor(target, key);
    Object.defineProperty(target, key, { value, configurable: true, writable: true, enumerable: saved?.enumerable ?? false });
    undo.push(() => (saved ? Object.defineProperty(target, key, saved) : delete (target as Record<string, unknown>)[key]));
  };
  patch(globalThis, "setTimeout", (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => clock.after(Number(ms ?? 0), () => fn(...args)));
  patch(globalThis, "clearTimeout", (id: unknown) => clock.cancel(id));
  // A real-looking epoch: a runtime may compare Date.now() with stored times.
  patch(Date, "now", () => 1_700_000_000_000 + clock.now);
  patch(Math, "random", random);
  patch(globalThis.crypto, "randomUUID", () => uuid(random));
  patch(globalThis.crypto.subtle, "digest", digest);
  if (typeof globalThis.CloseEvent === "undefined") patch(globalThis, "CloseEvent", SimCloseEvent);
  for (const level of ["log", "warn", "error"] as const) {
    patch(console, level, (...args: unknown[]) => log(`console.${level}: ${args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(" ")}`));
  }
  return () => {
    for (const step of undo.reverse()) step();
  };
}

export { Clock, NET, drain, install, mulberry32 };
export type { Actor };

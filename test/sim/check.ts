/**
 * The reference and the invariant. The reference is the same party, unsharded: one room whose
 * connections are the clients' sockets themselves, fed the events in the order the sharded
 * party's handlers ran (the linearization), each handler to its end before the next, as a
 * Durable Object's input gate runs them.
 *
 * A closed socket may have received a prefix of what the reference sent it: unsharded too, what
 * is in flight when a socket closes is lost (any prefix is one latency's outcome). A socket open
 * at the end must have received exactly the reference's messages.
 *
 * Routed writes are a lane of their own per socket (checkWrites): the reference runs each as its
 * connection's message where the sharded party ran it, so what writes do to the room is checked
 * with everything else; the lane itself is checked for once, in order, as its own connection.
 */
import type { Conn } from "../../src/runtime/host.js";
import type { Message } from "../../src/runtime/protocol.js";
import { MemStorage, show, type ClientSocket, type RoutedWrite } from "./fakes.js";
import { SOCKET_HEADER, TestParty, type Observation } from "./party.js";
import type { World } from "./world.js";

interface Divergence {
  /**
   * Which part of the invariant: (a) handlers, (e) order, (w) routed writes, (c) observations,
   * (b) received, (d) storage, or the run never settled. `window`: a routed write run twice, by
   * two leader incarnations (the first one's memory lost between the runs): the known window of
   * docs/how-it-works.md, reported apart from the rest.
   */
  kind: "handlers" | "order" | "writes" | "window" | "observation" | "received" | "storage" | "settle";
  /** The client socket it concerns (or ""), and its connection id, for the trace. */
  about: string;
  id: string;
  /** When the differing handler ran (virtual ms), if it is one. */
  at?: number;
  detail: string;
}

/** The socket each log entry belongs to: a close to the oldest socket of its id not closed yet. */
function attribute(log: Observation[]): (string | undefined)[] {
  const open = new Map<string, string[]>();
  return log.map((o) => {
    if (o.h === "restart") return void open.clear();
    const sockets = open.get(o.id) ?? [];
    open.set(o.id, sockets);
    if (o.h === "connect") sockets.push(o.sock ?? "?");
    if (o.h === "close") return sockets.shift() ?? `${o.id}.?`;
    return o.sock;
  });
}

class RefConn implements Conn {
  readyState = 1;
  private attachment: unknown = null;
  constructor(
    readonly id: string,
    readonly uri: string,
    private readonly received: string[],
  ) {}
  get state() {
    return structuredClone(this.attachment);
  }
  setState(state: unknown) {
    this.attachment = structuredClone(state ?? null);
    return state;
  }
  send(message: Message) {
    if (this.readyState === 1) this.received.push(show(message));
  }
  close() {
    this.readyState = 3;
  }
}

/** The unsharded run: its own log of observations, what each socket received, its storage. */
async function reference(log: Observation[], awaits: boolean) {
  const storage = new MemStorage();
  const conns = new Map<string, RefConn>();
  const received = new Map<string, string[]>();
  const out: Observation[] = [];
  const live = () => [...conns.values()];
  const room = {
    storage,
    broadcast: (message: Message, without: string[] = []) => live().forEach((c) => without.includes(c.id) || c.send(message)),
    getConnection: (id: string) => live().reverse().find((c) => c.id === id),
    getConnections: live,
  };
  const party = new TestParty(room, (o) => out.push(o), awaits);
  const owners = attribute(log);
  for (const [i, o] of log.entries()) {
    const sock = owners[i] ?? "?";
    if (o.h === "restart") {
      for (const conn of conns.values()) conn.close();
      conns.clear();
      out.push({ ...o });
    } else if (o.h === "connect") {
      const list = received.get(sock) ?? [];
      received.set(sock, list);
      // The URL the client used, without its key: what the party sees unsharded.
      const conn = new RefConn(o.id, `http://sim.test/parties/main/room?_pk=${o.id}`, list);
      conns.set(sock, conn);
      await party.onConnect(conn, { request: new Request(conn.uri, { headers: { [SOCKET_HEADER]: sock } }) });
    } else {
      const conn = conns.get(sock) ?? new RefConn(o.id, "?", []);
      if (o.h === "message") await party.onMessage(conn, o.data ?? "");
      else {
        conns.delete(sock);
        conn.close();
        await party.onClose(conn, o.code ?? 1005, o.reason ?? "");
      }
    }
  }
  return { log: out, received, storage };
}

const isPrefix = (a: readonly string[], b: readonly string[]) => a.length <= b.length && a.every((x, i) => x === b[i]);
const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && isPrefix(a, b);

/** (a) Per socket: onConnect once, each message it sent once and in order, onClose once if it closed. */
function checkHandlers(w: World): Divergence | undefined {
  // A socket the party never met is fine when it was refused its id: closed 1008 by the runtime,
  // or (its client gone before the refusal came) its id held by another key the party met; or
  // when its client closed it before it opened, having sent nothing: unsharded too, its request
  // may not have reached the room before it was left.
  const events = new Map<string, string[]>();
  const owners = attribute(w.log);
  for (const [i, o] of w.log.entries()) {
    // Routed writes are a lane of their own (checkWrites): no order with the socket's messages.
    if (o.h === "restart" || o.writer !== undefined) continue;
    const sock = owners[i]!;
    const list = events.get(sock) ?? [];
    list.push(o.h === "message" ? `message ${o.data}` : o.h);
    events.set(sock, list);
  }
  // Who the party met: a socket may be refused an id another key held (squat), and never be met.
  const met = new Map(w.sockets.map((socket) => [socket.name, socket]));
  const keysMet = (id: string) => new Set(w.log.flatMap((o) => (o.h === "connect" && o.id === id ? [met.get(o.sock ?? "")?.key] : [])));
  for (const socket of w.sockets) {
    const got = events.get(socket.name) ?? [];
    events.delete(socket.name);
    const full = ["connect", ...socket.sent.map((text) => `message ${text}`)];
    const refused = got.length === 0 && (socket.serverCloseCode === 1008 || [...keysMet(socket.id)].some((key) => key !== socket.key));
    const abandoned = got.length === 0 && socket.closedFirstBy === "client" && socket.openedAt === undefined && socket.sent.length === 0;
    if (!refused && !abandoned && !handlersOk(socket, got, full)) {
      return { kind: "handlers", about: socket.name, id: socket.id, detail: `${socket.name} (${closedHow(socket)}) sent ${JSON.stringify(socket.sent)}; the leader ran ${JSON.stringify(got)}` };
    }
  }
  for (const [sock, got] of events) return { kind: "handlers", about: sock, id: sock.split(".")[0] ?? "", detail: `handlers ran for no socket of the schedule: ${sock} ${JSON.stringify(got)}` };
  return undefined;
}

function handlersOk(socket: ClientSocket, got: string[], full: string[]): boolean {
  // Unsharded too, a restart loses what the room had not run yet: any prefix of the story.
  if (socket.restartHit) return isPrefix(got, [...full, "close"]);
  if (socket.closedFirstBy === undefined) return same(got, full);
  if (socket.closedFirstBy === "client") return same(got, [...full, "close"]);
  // Closed by the runtime: what the client sent meanwhile may be lost, as when a server closes a socket.
  // Refused before the leader heard of it (id in use, room failed to start): nothing at all.
  if (got.length === 0) return socket.closeCode === 1008 || socket.closeCode === 1011;
  return got.at(-1) === "close" && isPrefix(got.slice(0, -1), full) && got.length >= 2;
}

function closedHow(socket: ClientSocket): string {
  const how = socket.closedFirstBy ? `closed by ${socket.closedFirstBy} ${socket.closeCode}` : "open at the end";
  return socket.restartHit ? `${how}, hit by a restart` : how;
}

/**
 * (e) Real-time order of opens: unsharded, a client sees its socket open once the party's
 * onConnect has run, so a message any client sends after that comes after the connect. The
 * reference replays the leader's order, so only this check sees a connect the leader met late.
 */
function checkOpenOrder(w: World): Divergence | undefined {
  const owners = attribute(w.log);
  const sockets = new Map(w.sockets.map((socket) => [socket.name, socket]));
  const writes = writesByText(w);
  const metAt = new Map<string, number>();
  w.log.forEach((o, i) => o.h === "connect" && !metAt.has(owners[i]!) && metAt.set(owners[i]!, i));
  for (const [i, o] of w.log.entries()) {
    if (o.h === "restart") return undefined; // a restart loses what was in flight; the reference says the rest
    if (o.h !== "message") continue;
    // A routed write: sent when its first attempt left.
    const written = writes.get(o.data ?? "");
    const sender = written?.socket ?? sockets.get(owners[i] ?? "");
    const at = written ? written.write.sentAt : sender?.sentAt[sender.sent.indexOf(o.data ?? "")];
    if (at === undefined) continue;
    for (const [name, met] of metAt) {
      const opened = sockets.get(name)?.openedAt;
      if (met > i && opened !== undefined && opened < at) {
        return { kind: "order", about: name, id: o.id, at, detail: `${name} was open at ${opened} ms; ${sender!.name} sent ${o.data} at ${at} ms, and the party met ${name} (handler ${met}) after that message (handler ${i})` };
      }
    }
  }
  return undefined;
}

/** Every routed write the clients made, by its text (unique: it carries the schedule's count). */
function writesByText(w: World): Map<string, { socket: ClientSocket; write: RoutedWrite }> {
  return new Map(w.sockets.flatMap((socket) => socket.writes.map((write) => [write.text, { socket, write }] as const)));
}

/**
 * (w) Routed writes, a lane per socket: a write answered 200 ran exactly once (none, if a restart
 * lost it after its answer, as unsharded a restart loses what the room had not run); any other
 * at most once, and never one that was not sent; each as its writer's connection (its id and key:
 * a later socket of the same client may be that connection by then), while the party counted it
 * among its connections, and not while another handler awaited storage (the input gate); the
 * writes of one connection (id and key: their numbers are its, leader-writes.ts) ran in the
 * order of their numbers; and a socket open at the end had every write answered 200. Nothing is
 * asked of their order with the socket's own messages.
 */
function checkWrites(w: World): Divergence | undefined {
  const writes = writesByText(w);
  const sockets = new Map(w.sockets.map((socket) => [socket.name, socket]));
  const owners = attribute(w.log);
  const runs = new Map<string, number[]>();
  // The sockets the party has met and whose onClose has not run, as of each handler.
  const live = new Set<string>();
  for (const [i, o] of w.log.entries()) {
    if (o.h === "restart") live.clear();
    if (o.h === "connect") live.add(owners[i]!);
    if (o.h === "close") live.delete(owners[i]!);
    if (o.h !== "message" || o.writer === undefined) continue;
    const made = writes.get(o.data ?? "");
    const at = w.logTimes[i];
    if (!made) return { kind: "writes", about: o.writer, id: o.id, at, detail: `handler ${i}: a routed write no client made ran: ${o.data}` };
    const { socket, write } = made;
    if (write.sentAt === undefined) return { kind: "writes", about: socket.name, id: o.id, at, detail: `handler ${i}: ${socket.name}'s write ${write.seq} ran, never sent (${write.text})` };
    const as = sockets.get(o.sock ?? "");
    if (o.id !== socket.id || as?.key !== socket.key) {
      return { kind: "writes", about: socket.name, id: o.id, at, detail: `handler ${i}: ${socket.name}'s write ${write.seq} ran as ${o.id} (${o.sock}), another connection` };
    }
    // Unsharded, a write for a connection that is gone is refused (425): a connection's handlers end with its onClose.
    if (!live.has(o.sock ?? "")) return { kind: "writes", about: socket.name, id: o.id, at, detail: `handler ${i}: ${socket.name}'s write ${write.seq} ran as ${o.id} (${o.sock}), whose onClose had run (or whose onConnect had not)` };
    // As a socket's message would, a write reaches the party only while no storage call is in flight (the input gate).
    if (o.gate !== undefined) return { kind: "writes", about: socket.name, id: o.id, at, detail: `handler ${i}: ${socket.name}'s write ${write.seq} started while ${o.gate} read-modify-write(s) of other handlers awaited storage` };
    const list = runs.get(write.text) ?? [];
    list.push(i);
    runs.set(write.text, list);
  }
  for (const { socket, write } of writes.values()) {
    const ran = runs.get(write.text) ?? [];
    const story = `${socket.name}'s write ${write.seq} (${write.text}; ${closedHow(socket)}; answers ${JSON.stringify(write.answers)}, outcome ${write.outcome ?? "never sent"})`;
    if (ran.length > 1) {
      const [first, second] = [ran[0]!, ran[1]!];
      const by = [w.logLeaders[first], w.logLeaders[second]];
      const where = `handlers ${ran.join(", ")}, at ${ran.map((i) => `${w.logLeaders[i]} (${w.logTimes[i]} ms)`).join(", ")}`;
      const restarted = w.log.slice(first, second).some((o) => o.h === "restart");
      if (ran.length === 2 && by[0] !== by[1] && !restarted) {
        return { kind: "window", about: socket.name, id: socket.id, at: w.logTimes[second], detail: `${story} ran twice, ${where}: the first leader's memory was lost between the runs (the known window)` };
      }
      return { kind: "writes", about: socket.name, id: socket.id, at: w.logTimes[second], detail: `${story} ran ${ran.length} times, ${where}` };
    }
    if (write.outcome === 200 && ran.length === 0 && !socket.restartHit) return { kind: "writes", about: socket.name, id: socket.id, detail: `${story} was answered 200 and never ran` };
    // Once faults stop everything settles: a socket open to the end had each of its writes taken, as its messages all ran
    // (unless its requests were lost so often, request-drop, that the client gave up).
    const open = socket.closedFirstBy === undefined && !socket.restartHit && socket.openedAt !== undefined;
    if (open && write.outcome !== 200 && !(write.outcome === "gave up" && write.answers.includes("lost"))) return { kind: "writes", about: socket.name, id: socket.id, detail: `${story}: its socket stayed open, and the write was never answered 200` };
  }
  // Per connection (id and key), the numbers of the writes that ran only go up.
  const last = new Map<string, { seq: number; i: number; text: string }>();
  const order = [...runs.entries()].flatMap(([text, ran]) => ran.map((i) => ({ i, text }))).sort((a, b) => a.i - b.i);
  for (const { i, text } of order) {
    const { socket, write } = writes.get(text)!;
    const lane = `${socket.id}\n${socket.key}`;
    const before = last.get(lane);
    if (before && before.seq >= write.seq) {
      return { kind: "writes", about: socket.name, id: socket.id, at: w.logTimes[i], detail: `${socket.name}'s write ${write.seq} ran (handler ${i}) after write ${before.seq} of its connection (handler ${before.i}: ${before.text})` };
    }
    last.set(lane, { seq: write.seq, i, text });
  }
  return undefined;
}

/** (b) What each socket received, against the reference. */
function checkReceived(w: World, expected: Map<string, string[]>): Divergence | undefined {
  for (const socket of w.sockets) {
    const want = expected.get(socket.name) ?? [];
    const got = socket.received;
    const open = socket.closedFirstBy === undefined && !socket.restartHit;
    if (open ? same(got, want) : isPrefix(got, want)) continue;
    const at = got.findIndex((x, i) => x !== want[i]);
    const where = at === -1 ? `it got ${got.length} of ${want.length}; first missing: ${JSON.stringify(want[got.length])}` : `message ${at}: got ${JSON.stringify(got[at])}, reference ${JSON.stringify(want[at])}`;
    return { kind: "received", about: socket.name, id: socket.id, detail: `${socket.name} (${closedHow(socket)}) ${where}` };
  }
  return undefined;
}

/** (c) Each handler saw what the unsharded party saw: connections, state, counters read. */
function checkObservations(w: World, ref: Observation[]): Divergence | undefined {
  const owners = attribute(w.log);
  for (const [i, o] of w.log.entries()) {
    const a = JSON.stringify(o);
    const b = JSON.stringify(ref[i]);
    if (a !== b) return { kind: "observation", about: owners[i] ?? "", id: o.id, at: w.logTimes[i], detail: `handler ${i} (${owners[i]}): sharded ${a}, reference ${b}` };
  }
  return undefined;
}

async function check(w: World, settled: boolean, awaits: boolean): Promise<Divergence | undefined> {
  if (!settled) return { kind: "settle", about: "", id: "", detail: `still busy at ${w.clock.now} ms of virtual time` };
  const ref = await reference(w.log, awaits);
  const storage = (): Divergence | undefined => {
    const [a, b] = [w.leader.storage.dump(), ref.storage.dump()];
    return a === b ? undefined : { kind: "storage", about: "", id: "", detail: `sharded ${a}, reference ${b}` };
  };
  return checkHandlers(w) ?? checkOpenOrder(w) ?? checkWrites(w) ?? checkObservations(w, ref.log) ?? checkReceived(w, ref.received) ?? storage();
}

export { attribute, check };
export type { Divergence };

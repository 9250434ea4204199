/**
 * Leader work falls with load: a shard sends what its clients did while the leader had not yet
 * acknowledged its last message as one link message, and the leader takes each frame as before
 * (in order, each once, one handler call per message) and acknowledges them once.
 */
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import type { Conn, LinkEnd, LinkSocket, RoomStorage, ShardHost } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { unpack } from "../src/runtime/link-frames.js";
import type { LeaderFrame, RelayFrame, ShardFrame } from "../src/runtime/protocol.js";
import { OPEN_WAIT_MS } from "../src/runtime/shard-opens.js";
import { GOT_AFTER_MS, GOT_MAX_MS, LeaderInbox } from "../src/runtime/shard-inbox.js";
import { ShardRelay } from "../src/runtime/shard.js";
import { leaderHostWith } from "./helpers/leader-host.js";

globalThis.CloseEvent ??= class extends Event {} as unknown as typeof CloseEvent;
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};
/** Past MERGE_MS (5 ms): what a shard held for other messages to travel with has gone. */
const turn = () => new Promise((resolve) => setTimeout(resolve, 25));

function storage(): RoomStorage {
  const map = new Map<string, unknown>();
  return {
    get: async <T>(key: string) => structuredClone(map.get(key)) as T | undefined,
    put: async (key, value) => void map.set(key, structuredClone(value)),
    delete: async (keys) => [keys].flat().forEach((key) => map.delete(key)),
    list: async <T>({ prefix }: { prefix: string }) => new Map([...map].filter(([key]) => key.startsWith(prefix))) as Map<string, T>,
  };
}

/** A shard whose link records each message it sends; the test plays the leader and acks by hand. */
function shardWithLink() {
  const messages: ShardFrame[] = [];
  let listener: ((event: MessageEvent) => void) | undefined;
  const link: LinkSocket & { closed: number } = {
    readyState: 1,
    closed: 0,
    send: (wire) => void messages.push(unpack<ShardFrame>(wire)),
    close: () => void link.closed++,
    addEventListener: (type: string, on: (event: MessageEvent) => void) => void (type === "message" && (listener = on)),
  };
  const sockets: Conn[] = [];
  const host: ShardHost = { party: "main", storage: storage(), connections: (tag) => sockets.filter((conn) => tag === undefined || conn.id === tag), openLink: async () => link, routerRoom: () => async () => new Response(null, { status: 204 }) };
  const relay = new ShardRelay(host, "lobby", 1);
  const socket = (id: string): Conn => {
    let state: unknown = null;
    const conn: Conn = { id, uri: null, readyState: 1, get state() { return state; }, setState: (next) => (state = next), send() {}, close() {} };
    sockets.push(conn);
    return conn;
  };
  const fromLeader = (frame: LeaderFrame) => listener?.(new MessageEvent("message", { data: JSON.stringify(frame) }));
  const ack = (seq: number) => fromLeader({ t: "ack", seq });
  const close = async (conn: Conn) => {
    sockets.splice(sockets.indexOf(conn), 1);
    await relay.onClose(conn, 1000, "bye");
    await settle();
  };
  return { relay, messages, socket, ack, fromLeader, close, link };
}

const framesIn = (message: ShardFrame): RelayFrame[] => (message.t === "frames" ? message.frames : message.t === "hello" ? [] : [message]);

describe("a shard's frames travel together while the leader has not acknowledged", () => {
  it("the first frame goes at once; what comes before its ack goes as one message after it, in order", async () => {
    const { relay, messages, socket, ack } = shardWithLink();
    const alice = socket("alice");
    const opening = relay.onConnect(alice, { request: new Request("http://host/parties/router/lobby?_pk=alice&_psk=k") });
    await settle();
    assert.deepEqual(messages.map((m) => m.t), ["hello", "open"]);
    for (let i = 1; i <= 5; i++) relay.onMessage(alice, `m${i}`);
    // Nothing more until the leader acknowledged the open.
    assert.equal(messages.length, 2);
    ack(1);
    await opening;
    assert.equal(messages.length, 3);
    assert.equal(messages[2]!.t, "frames");
    assert.deepEqual(framesIn(messages[2]!).map((frame) => [frame.seq, "data" in frame ? frame.data : undefined]), [1, 2, 3, 4, 5].map((i) => [i + 1, { text: `m${i}` }]));
    // Acknowledged: the next message goes 5 ms later, alone.
    ack(6);
    relay.onMessage(alice, "m6");
    await turn();
    assert.deepEqual(messages.slice(3).map((m) => m.t), ["message"]);
  });

  it("with nothing in flight, messages that come within 5 ms go as one link message; an open or close goes at once, with them", async () => {
    const { relay, messages, socket, ack } = shardWithLink();
    const [alice, bob] = [socket("alice"), socket("bob")];
    const opening = [alice, bob].map((conn) => relay.onConnect(conn, { request: new Request(`http://host/parties/router/lobby?_pk=${conn.id}&_psk=k`) }));
    await settle();
    ack(2);
    await Promise.all(opening);
    const before = messages.length;
    // Many clients' messages arriving together (one event each): one link message, one leader invocation.
    for (let i = 1; i <= 4; i++) relay.onMessage(i % 2 ? alice : bob, `m${i}`);
    assert.equal(messages.length, before, "sent before the turn ended");
    await turn();
    assert.deepEqual(messages.slice(before).map((m) => framesIn(m).map((frame) => ("data" in frame ? frame.data : frame.t))), [[1, 2, 3, 4].map((i) => ({ text: `m${i}` }))]);
    // A close does not wait for the turn, and takes the messages made before it along, in order.
    ack(6);
    relay.onMessage(alice, "m5");
    const closing = relay.onClose(bob, 1000, "bye");
    assert.deepEqual(framesIn(messages.at(-1)!).map((frame) => frame.t), ["message", "close"]);
    await closing;
  });
});

describe("a shard says what it got of the leader's frames with the frames it sends (no link message of its own)", () => {
  /** A shard whose leader named itself on the link, with alice connected (her open acknowledged). */
  async function welcomedAlice() {
    const shard = shardWithLink();
    const alice = shard.socket("alice");
    const opening = shard.relay.onConnect(alice, { request: new Request("http://host/parties/router/lobby?_pk=alice&_psk=k") });
    await settle();
    shard.fromLeader({ t: "welcome", leader: "L1" });
    shard.ack(1);
    await opening;
    return { ...shard, alice };
  }

  it("once the leader named itself on the link; a `got` alone only when no frame goes within GOT_AFTER_MS", async () => {
    const { relay, messages, socket, ack, fromLeader } = shardWithLink();
    const alice = socket("alice");
    const opening = relay.onConnect(alice, { request: new Request("http://host/parties/router/lobby?_pk=alice&_psk=k") });
    await settle();
    // A numbered frame before the leader named itself on this link: its count is not said yet.
    fromLeader({ t: "send", to: "alice", data: { text: "early" }, n: 1 });
    ack(1);
    await opening;
    relay.onMessage(alice, "m1");
    await turn();
    assert.equal((messages.at(-1) as { got?: number }).got, undefined);
    fromLeader({ t: "welcome", leader: "L1" });
    fromLeader({ t: "send", to: "alice", data: { text: "hi" }, n: 2 });
    ack(2);
    relay.onMessage(alice, "m2");
    await turn();
    const last = messages.at(-1)!;
    assert.deepEqual([last.t, (last as { got?: number }).got, framesIn(last).map((frame) => frame.seq)], ["frames", 2, [3]]);
    assert.equal(messages.filter((message) => message.t === "got").length, 0);
  });

  it("a `got` alone goes GOT_AFTER_MS after a frame, and at once after a `mark` (a reconnect waits on it)", async () => {
    const { relay, messages, alice, ack, fromLeader } = await welcomedAlice();
    fromLeader({ t: "send", to: "alice", data: { text: "hi" }, n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual(messages.filter((message) => message.t === "got"), [], "a shard whose clients only receive says what it got at most once per GOT_AFTER_MS");
    fromLeader({ t: "mark", n: 2 });
    await settle();
    assert.deepEqual(messages.filter((message) => message.t === "got"), [{ t: "got", n: 2 }]);
  });

  it("through a long fan-out a `got` alone waits for a pause of GOT_AFTER_MS, at most GOT_MAX_MS: not one a second", () => {
    const gots: { n: number; at: number }[] = [];
    const link = { readyState: 1, send: (wire: string) => void gots.push({ n: (JSON.parse(wire) as { n: number }).n, at: Date.now() }), close() {}, addEventListener() {} } as unknown as LinkSocket;
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
    // In steps: a timer that fires within one tick reads the tick's end as the time.
    const advance = (ms: number) => {
      for (let left = ms; left > 0; left -= 50) mock.timers.tick(Math.min(50, left));
    };
    try {
      const inbox = new LeaderInbox(() => link);
      inbox.meet("L1");
      let n = 0;
      // A frame every 400 ms for 4 s: one `got`, a second after the last.
      for (let at = 0; at < 4_000; at += 400) {
        inbox.take(++n);
        advance(400);
      }
      advance(GOT_AFTER_MS);
      assert.deepEqual(gots, [{ n: 10, at: 3_600 + GOT_AFTER_MS }]);
      // A frame every 100 ms without a pause: one `got` every GOT_MAX_MS.
      gots.length = 0;
      const start = Date.now();
      for (let at = 0; at < 2.5 * GOT_MAX_MS; at += 100) {
        inbox.take(++n);
        advance(100);
      }
      assert.deepEqual(gots.map((got) => got.at - start), [GOT_MAX_MS, 2 * GOT_MAX_MS]);
    } finally {
      mock.timers.reset();
    }
  });

  it("a `got` alone never goes before frames waiting to go: it rides on them, as the leader takes a `got` to come after what was relayed before (leader-replace.ts)", async () => {
    const { relay, messages, alice, ack, fromLeader } = await welcomedAlice();
    relay.onMessage(alice, "m1");
    await turn();
    // m1 is on its way, not acknowledged: m2 waits for its ack.
    relay.onMessage(alice, "m2");
    await turn();
    fromLeader({ t: "mark", n: 1 });
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(messages.filter((message) => message.t === "got").length, 0, "the mark asks for a `got` at once; with m2 still to go, none goes alone");
    ack(2);
    await turn();
    const last = messages.at(-1)!;
    assert.deepEqual([last.t, (last as { got?: number }).got, framesIn(last).map((frame) => frame.seq)], ["frames", 1, [3]]);
  });

  it("a hello names a client whose close the leader has not taken, though its id closed again since (a reconnect on this shard that closed at once)", async () => {
    const { relay, messages, socket, ack, fromLeader, close } = shardWithLink();
    const request = { request: new Request("http://host/parties/router/lobby?_pk=alice&_psk=k") };
    const first = socket("alice");
    const opening = relay.onConnect(first, request);
    await settle();
    fromLeader({ t: "welcome", leader: "L1" });
    ack(1);
    await opening;
    // The leader knows the first socket; neither close, nor the second open, is taken.
    await close(first);
    const second = socket("alice");
    void relay.onConnect(second, request);
    await settle();
    await close(second);
    fromLeader({ t: "resync" });
    await settle();
    const hello = messages.filter((message) => message.t === "hello").at(-1) as Extract<ShardFrame, { t: "hello" }>;
    assert.equal(hello.acked, 1);
    assert.deepEqual(hello.clients.map((client) => client.id), ["alice"], "its close comes after the hello: a leader woken meanwhile runs its onClose");
  });

  it("the leader takes it from the batch: what it kept for the shard is dropped, and not sent again on the next link", async () => {
    /** What a leader sends again on a shard's next link after a batch that says `got` (or not). */
    const resent = async (got: number | undefined) => {
      const sent: LeaderFrame[] = [];
      const link: LinkEnd = { id: "party-shard-link-1-a", readyState: 1, send: (wire) => void sent.push(unpack<LeaderFrame>(wire)), close() {} };
      const links: LinkEnd[] = [];
      const core = new LeaderCore(leaderHostWith(links), {});
      await core.start();
      links.push(link);
      const kept = { state: null, attachment: null, tags: [] };
      const hello = (n: number) => core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s1", n, acked: 0, clients: [{ id: "a", uri: "http://h/parties/main/lobby", key: null, kept }] }));
      await hello(1);
      core.broadcast("one");
      await new Promise((resolve) => setTimeout(resolve, 80)); // past the leader's coalescing
      const numbered = sent.filter((frame) => "n" in frame).map((frame) => (frame as { n: number }).n);
      assert.ok(numbered.length > 0);
      await core.onLinkFrame(link, JSON.stringify({ t: "frames", frames: [{ t: "message", seq: 1, id: "a", data: { text: "x" } }], ...(got === undefined ? {} : { got: Math.max(...numbered) }) } satisfies ShardFrame));
      await settle();
      sent.length = 0;
      await hello(2);
      return sent.filter((frame) => frame.t === "broadcast" || frame.t === "broadcasts").length;
    };
    assert.equal(await resent(undefined), 1, "kept, and sent again");
    assert.equal(await resent(1), 0, "dropped once the shard said it got it");
  });

  it("the leader asks with a mark once what it keeps for a shard passes a quarter of its bound, once until the shard says", async () => {
    const sent: LeaderFrame[] = [];
    const link: LinkEnd = { id: "party-shard-link-1-a", readyState: 1, send: (wire) => void sent.push(...[unpack<LeaderFrame>(wire)].flatMap((frame) => ("frames" in frame ? (frame.frames as LeaderFrame[]) : [frame]))), close() {} };
    const links: LinkEnd[] = [];
    const core = new LeaderCore(leaderHostWith(links), {});
    await core.start();
    links.push(link);
    const kept = { state: null, attachment: null, tags: [] };
    await core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s1", acked: 0, clients: [{ id: "a", uri: "http://h/parties/main/lobby", key: null, kept }] }));
    const marks = () => sent.filter((frame) => frame.t === "mark").length;
    // 1.5 MiB, then 1 MiB more: past 2 MiB (a quarter of 8 MiB) with the second.
    core.broadcast("x".repeat(1_572_864));
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(marks(), 0);
    core.broadcast("y".repeat(1_048_576));
    core.broadcast("z".repeat(1_048_576));
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(marks(), 1, "one mark, not one a frame");
    const last = Math.max(...sent.map((frame) => (frame as { n?: number }).n ?? 0));
    await core.onLinkFrame(link, JSON.stringify({ t: "got", n: last }));
    core.broadcast("w".repeat(2_200_000));
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.equal(marks(), 2, "asked again once the shard said it got the rest, and the frames grew past it again");
  });
});

describe("the leader takes a batch frame by frame and acknowledges it once", () => {
  it("one invocation for many messages: each handed to onMessage once, in order, then one ack of the last", async () => {
    const sent: LeaderFrame[] = [];
    const link: LinkEnd = { id: "party-shard-link-1-a", readyState: 1, send: (wire) => void sent.push(unpack<LeaderFrame>(wire)), close() {} };
    const got: string[] = [];
    // Linked after its start: a start waits for the hellos of the links it has.
    const links: LinkEnd[] = [];
    const core = new LeaderCore(leaderHostWith(links), { message: (conn, message) => void got.push(`${conn.id}:${String(message)}`) });
    await core.start();
    links.push(link);
    const kept = { state: null, attachment: null, tags: [] };
    await core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s1", acked: 0, clients: [{ id: "a", uri: "http://h/parties/main/lobby", key: null, kept }, { id: "b", uri: "http://h/parties/main/lobby", key: null, kept }] }));
    const before = { ...core.counts };
    const frames: RelayFrame[] = Array.from({ length: 20 }, (_, i) => ({ t: "message", seq: i + 1, id: i % 2 ? "b" : "a", data: { text: String(i) } }));
    await core.onLinkFrame(link, JSON.stringify({ t: "frames", frames } satisfies ShardFrame));
    await settle();
    assert.deepEqual(got, frames.map((frame, i) => `${frame.id}:${i}`));
    assert.deepEqual(sent.filter((frame) => frame.t === "ack"), [{ t: "ack", seq: 0 }, { t: "ack", seq: 20 }], "the first answers the hello");
    assert.equal(core.counts.events - before.events, 1);
    assert.equal(core.counts.messages - before.messages, 20);
    // The same batch again (its ack was lost): acknowledged, nothing run twice.
    await core.onLinkFrame(link, JSON.stringify({ t: "frames", frames: frames.map((frame) => ({ ...frame, retry: true })) } satisfies ShardFrame));
    await settle();
    assert.equal(got.length, 20);
    assert.deepEqual(sent.filter((frame) => frame.t === "ack").at(-1), { t: "ack", seq: 20 });
  });
});

describe("a hello that arrives late, on a link its shard has since replaced", () => {
  it("is not taken: the later link stays the shard's, and its frames run", async () => {
    const made = ["a", "b"].map((name): LinkEnd & { acks: number[] } => {
      const acks: number[] = [];
      return { id: `party-shard-link-1-${name}`, readyState: 1, acks, send: (wire) => void (unpack<LeaderFrame>(wire).t === "ack" && acks.push((unpack<LeaderFrame>(wire) as { seq: number }).seq)), close() {} };
    });
    const [old, current] = made as [LinkEnd & { acks: number[] }, LinkEnd & { acks: number[] }];
    const got: string[] = [];
    const links: LinkEnd[] = [];
    const core = new LeaderCore(leaderHostWith(links), { connect: (conn) => void got.push(`connect ${conn.id}`), message: (conn, message) => void got.push(`${conn.id}: ${String(message)}`) });
    await core.start();
    links.push(...made);
    const hello = (n: number) => JSON.stringify({ t: "hello", room: "lobby", incarnation: "s1", n, acked: 0, clients: [] } satisfies ShardFrame);
    await core.onLinkFrame(current, hello(2));
    // The shard's first hello, sent on the link it then replaced, comes last.
    await core.onLinkFrame(old, hello(1));
    await core.onLinkFrame(current, JSON.stringify({ t: "open", seq: 1, id: "ann", uri: "http://h/parties/main/lobby", key: "k", headers: [] } satisfies ShardFrame));
    await core.onLinkFrame(current, JSON.stringify({ t: "message", seq: 2, id: "ann", data: { text: "hi" } } satisfies ShardFrame));
    await settle();
    assert.deepEqual(got, ["connect ann", "ann: hi"]);
    assert.deepEqual(current.acks, [0, 1, 2], "the first answers its hello");
    assert.deepEqual(old.acks, []);
  });
});

describe("a client whose close the leader has not taken yet", () => {
  it("is in the shard's hello as it was (with what the leader kept of it since), until the close is acknowledged", async () => {
    const { relay, messages, socket, ack, fromLeader, close } = shardWithLink();
    const [ann, bob] = [socket("ann"), socket("bob")];
    const opening = [ann, bob].map((conn) => relay.onConnect(conn, { request: new Request(`http://host/parties/router/lobby?_pk=${conn.id}&_psk=k-${conn.id}`) }));
    await settle();
    ack(1);
    ack(2);
    await Promise.all(opening);
    const annSocket = (framesIn(messages[1]!)[0] as { socket?: string }).socket;
    await close(ann);
    // A leader woken now (its memory gone) asks who is here, before it took ann's close.
    const lastHello = () => messages.filter((m): m is Extract<ShardFrame, { t: "hello" }> => m.t === "hello").at(-1)!;
    fromLeader({ t: "keep", to: "ann", at: annSocket, kept: { state: "ann's", attachment: null, tags: ["ann"] } });
    fromLeader({ t: "resync" });
    await settle();
    assert.deepEqual(lastHello().clients.map((client) => [client.id, client.kept.state]), [["bob", null], ["ann", "ann's"]]);
    // Resent after the hello: the close, which the woken leader can now run as ann's onClose.
    assert.deepEqual(framesIn(messages.at(-1)!).map((frame) => [frame.t, frame.id, frame.retry]), [["close", "ann", true]]);
    ack(3);
    fromLeader({ t: "resync" });
    await settle();
    assert.deepEqual(lastHello().clients.map((client) => client.id), ["bob"]);
  });
});

describe("a link that breaks loses none of the leader's frames", () => {
  it("the leader keeps each numbered frame until the shard says it got it, and sends again what it did not get on the next link; the shard takes each number once", async () => {
    const make = (name: string) => {
      const frames: (LeaderFrame & { n?: number })[] = [];
      const link: LinkEnd = { id: `party-shard-link-1-${name}`, readyState: 1, send: (wire) => void frames.push(unpack<LeaderFrame>(wire)), close() {} };
      return { link, frames };
    };
    const links: LinkEnd[] = [];
    const core = new LeaderCore(leaderHostWith(links), {});
    await core.start();
    const first = make("a");
    links.push(first.link);
    const kept = { state: null, attachment: null, tags: [] };
    await core.onLinkFrame(first.link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s1", n: 1, acked: 0, clients: [{ id: "ann", uri: "http://h/parties/main/lobby", key: null, kept }] } satisfies ShardFrame));
    const leader = (first.frames.find((frame) => frame.t === "welcome") as { leader: string }).leader;
    for (const text of ["one", "two", "three"]) core.connection("ann")!.send(text);
    const numbers = first.frames.filter((frame) => frame.t === "send").map((frame) => frame.n);
    assert.deepEqual(numbers, [1, 2, 3]);
    // The shard got "one" and said so; the link broke with "two" and "three" on it.
    await core.onLinkFrame(first.link, JSON.stringify({ t: "got", n: 1 } satisfies ShardFrame));
    core.onLinkClose(first.link);
    links.length = 0;
    const second = make("b");
    links.push(second.link);
    await core.onLinkFrame(second.link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s1", n: 2, acked: 0, clients: [{ id: "ann", uri: "http://h/parties/main/lobby", key: null, kept }], leader, got: 1 } satisfies ShardFrame));
    assert.deepEqual(second.frames.filter((frame) => frame.t === "send").map((frame) => [frame.n, "data" in frame && frame.data]), [[2, { text: "two" }], [3, { text: "three" }]]);

    // The shard's side: a frame that comes again is not delivered again.
    const { relay, messages, socket, fromLeader } = shardWithLink();
    const bob = socket("bob");
    const got: string[] = [];
    bob.send = (message) => void got.push(String(message));
    void relay.onConnect(bob, { request: new Request("http://host/parties/router/lobby?_pk=bob") });
    await settle();
    fromLeader({ t: "welcome", leader: "L1" });
    for (const n of [1, 2, 1, 2, 3]) fromLeader({ t: "send", to: "bob", data: { text: `#${n}` }, n });
    assert.deepEqual(got, ["#1", "#2", "#3"]);
    // It says what it got (after GOT_AFTER_MS, once for all of them).
    await new Promise((resolve) => setTimeout(resolve, GOT_AFTER_MS + 50));
    assert.deepEqual(messages.filter((m) => m.t === "got"), [{ t: "got", n: 3 }]);
  });
});

describe("a client sees its socket open once the leader has taken its open", () => {
  const request = (id: string) => ({ request: new Request(`http://host/parties/router/lobby?_pk=${id}&_psk=k-${id}`) });
  const state = (promise: Promise<unknown>) => Promise.race([promise.then(() => "settled"), settle().then(() => "pending")]);

  it("onConnect (so the platform's 101) settles when the leader acknowledges the open's frame, not before", async () => {
    const { relay, socket, ack } = shardWithLink();
    const opening = relay.onConnect(socket("ann"), request("ann"));
    assert.equal(await state(opening), "pending");
    ack(1);
    assert.equal(await state(opening), "settled");
  });

  it("a client the leader closes meanwhile is refused its 101 (onConnect throws, so the platform closes it 1011: a close before the 101 would never reach it); one that closes itself stops waiting", async () => {
    const { relay, socket, fromLeader, close } = shardWithLink();
    const [ann, bob] = [socket("ann"), socket("bob")];
    const [annOpening, bobOpening] = [relay.onConnect(ann, request("ann")), relay.onConnect(bob, request("bob"))];
    await settle();
    fromLeader({ t: "close", to: "ann", code: 1011, reason: "Uncaught exception during session setup", n: 1 } as LeaderFrame);
    await assert.rejects(annOpening, (error: Error) => error.message === "Uncaught exception during session setup" && !String(error.stack).includes("shard"));
    assert.deepEqual(ann.state, { partyShardIgnored: true });
    assert.equal(await state(bobOpening), "pending");
    await close(bob);
    assert.equal(await state(bobOpening), "settled");
  });

  it("a leader that never answers holds it OPEN_WAIT_MS at most", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const { relay, socket } = shardWithLink();
    const opening = relay.onConnect(socket("ann"), request("ann"));
    await settle();
    t.mock.timers.tick(OPEN_WAIT_MS - 1);
    assert.equal(await state(opening), "pending");
    t.mock.timers.tick(1);
    assert.equal(await state(opening), "settled");
  });
});

describe("an idle link", () => {
  it("closes after 5 s without a frame when the leader's party hibernates (saying what it got first), and stays up when it does not", async () => {
    for (const hibernates of [true, false]) {
      mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_700_000_000_000 });
      try {
        const { relay, messages, socket, ack, fromLeader, link } = shardWithLink();
        const opening = relay.onConnect(socket("ann"), { request: new Request("http://host/parties/router/lobby?_pk=ann") });
        await settle();
        fromLeader({ t: "welcome", leader: "L1", hibernates });
        fromLeader({ t: "send", to: "ann", data: { text: "hi" }, n: 1 });
        ack(1);
        await opening;
        mock.timers.tick(4_000);
        assert.equal(link.closed, 0, "busy 4 s ago");
        mock.timers.tick(1_500);
        assert.equal(link.closed, hibernates ? 1 : 0, `hibernates: ${hibernates}`);
        if (hibernates) assert.deepEqual(messages.filter((m) => m.t === "got"), [{ t: "got", n: 1 }]);
      } finally {
        mock.timers.reset();
      }
    }
  });

  it("of a shard nobody is on, woken for frames to clients who left, closes 1 s after the last one, also when the party does not hibernate", async () => {
    mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_700_000_000_000 });
    try {
      const { relay, messages, socket, ack, fromLeader, close, link } = shardWithLink();
      const ann = socket("ann");
      const opening = relay.onConnect(ann, { request: new Request("http://host/parties/router/lobby?_pk=ann&_psk=k-ann") });
      await settle();
      fromLeader({ t: "welcome", leader: "L1", hibernates: false });
      ack(1);
      await opening;
      await close(ann);
      ack(2);
      await settle();
      assert.equal(link.closed, 1, "nobody here: the link closed once its close was taken");
      // The leader has a frame for ann, who left within her grace: it wakes the shard, which links again.
      const woken = (await (await relay.onRequest(new Request("http://host/", { method: "POST", headers: { "x-party-shard-link": "wake" } }))).json()) as { linking?: boolean };
      assert.equal(woken.linking, true);
      await settle();
      fromLeader({ t: "welcome", leader: "L1", hibernates: false });
      fromLeader({ t: "keep", to: "ann", kept: { state: null, attachment: null, tags: [] }, n: 1 });
      mock.timers.tick(900);
      assert.equal(link.closed, 1, "busy 0.9 s ago");
      mock.timers.tick(200);
      assert.equal(link.closed, 2, "a second of nothing, nobody here");
      assert.deepEqual(messages.filter((m) => m.t === "got").at(-1), { t: "got", n: 1 });
    } finally {
      mock.timers.reset();
    }
  });
});

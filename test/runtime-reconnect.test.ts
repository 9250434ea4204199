/**
 * A client reconnecting while its old socket's close is still on its way: on another shard
 * (leader-replace.ts), or on the same one (shard-opens.ts). Unsharded both sockets are the
 * room's until that close, and what the old one sent runs before it.
 */
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import type { Conn, LinkEnd, LinkSocket, ShardHost } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { ShardRelay } from "../src/runtime/shard.js";
import { REPLACE_WAIT_MS } from "../src/runtime/protocol.js";
import { REPLACE_MAX_WAIT_MS } from "../src/runtime/leader-replace.js";
import { leaderHostWith } from "./helpers/leader-host.js";
import { memoryStorage } from "./helpers/memory-storage.js";

// Node 20 has no CloseEvent; the workers runtime does (the leader dispatches one on a close).
globalThis.CloseEvent ??= class extends Event {} as unknown as typeof CloseEvent;

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A link of shard `shard`, whose frames to the shard are kept, parsed. */
function fakeLink(shard: number) {
  const toShard: { t: string; n?: number; seq?: number; waiting?: number[]; code?: number; reason?: string; at?: string }[] = [];
  const link: LinkEnd & { toShard: typeof toShard } = { id: `party-shard-link-${shard}-test`, readyState: 1, send: (text) => toShard.push(JSON.parse(text)), close() {}, toShard };
  return link;
}

const hello = (shard: number) => ({ t: "hello", room: "lobby", incarnation: `shard-${shard}`, n: 1, acked: 0, clients: [], left: [] });
const open = (seq: number, socket: string, id = "alice") => ({ t: "open", seq, id, socket, uri: "http://host/parties/main/lobby", key: `${id}-key`, headers: [] });
const message = (seq: number, id: string, text: string) => ({ t: "message", seq, id, data: { text } });
const close = (seq: number) => ({ t: "close", seq, id: "alice", code: 1000, reason: "bye" });
/** The number of the mark the leader sent down `link` (leader-replace.ts). */
const markOn = (link: ReturnType<typeof fakeLink>) => link.toShard.filter((frame) => frame.t === "mark").at(-1)?.n;
const acks = (link: ReturnType<typeof fakeLink>) => link.toShard.filter((frame) => frame.t === "ack").map(({ seq, waiting }) => (waiting ? `${seq} waiting ${waiting.join(",")}` : `${seq}`));

async function room() {
  const [one, two, three] = [fakeLink(1), fakeLink(2), fakeLink(3)];
  const calls: string[] = [];
  // The third shard links later (a starting leader waits for the hello of each linked shard).
  const links = [one, two];
  const core = new LeaderCore(leaderHostWith(links), {
    connect: (conn: Conn) => void calls.push(`connect ${conn.id} ${(conn as unknown as { socketTag: string }).socketTag}`),
    message: (conn: Conn, data) => void calls.push(`message ${conn.id} ${String(data)}`),
    close: (conn: Conn, code: number, reason: string) => void calls.push(`close ${conn.id} ${code} ${reason}`),
  });
  // Not awaited: it ends once each linked shard said hello, which the first frames below are.
  void core.start();
  const take = async (link: LinkEnd, frame: object) => {
    await core.onLinkFrame(link, JSON.stringify(frame));
    await settle();
  };
  await take(one, hello(1));
  await take(two, hello(2));
  await take(one, open(1, "old"));
  await take(two, open(1, "bob", "bob"));
  return { core, one, two, three, calls, take, linkThird: () => links.push(three) };
}

const gone = ["connect alice old", "connect bob bob", "close alice 1000 Reconnected", "connect alice new"];

describe("a reconnect on another shard", () => {
  it("waits for the old socket's close: what the old socket sent runs first, then its onClose, then the new onConnect; the shard's other clients do not wait", async () => {
    const { one, two, calls, take } = await room();
    await take(two, open(2, "new"));
    // Bob, on the same shard, speaks meanwhile: his message runs at once.
    await take(two, message(3, "bob", "later"));
    assert.deepEqual(acks(two), ["0", "1", "2 waiting 2", "3 waiting 2"], "taken, and the open named as waiting: the shard holds alice's 101");
    await take(one, message(2, "alice", "sent before closing"));
    await take(one, close(3));
    assert.deepEqual(calls, ["connect alice old", "connect bob bob", "message bob later", "message alice sent before closing", "close alice 1000 bye", "connect alice new"]);
    assert.deepEqual(acks(two).at(-1), "3", "once the open ran, no open waits: the shard lets alice's 101 go");
    assert.equal(one.toShard.filter((frame) => frame.t === "close").length, 0, "the old socket is not closed by the leader: its client closed it");
  });

  it("replaces the old socket when its close never comes (its client vanished): once REPLACE_WAIT_MS passed and both shards said they got the marks sent", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    try {
      const { one, two, calls, take } = await room();
      await take(two, open(2, "new"));
      const mark = markOn(one);
      assert.ok(mark, "a mark goes to the old socket's shard when the wait begins");
      assert.equal(markOn(two), undefined);
      mock.timers.tick(REPLACE_WAIT_MS);
      await settle();
      assert.deepEqual(calls, ["connect alice old", "connect bob bob"], "its shard has not said it got the mark: what it relayed before may be on its way still");
      await take(one, { t: "got", n: mark });
      assert.deepEqual(calls, ["connect alice old", "connect bob bob"], "nor has the new socket's shard said it got the mark sent once REPLACE_WAIT_MS passed: its client's close may be on its way");
      await take(two, { t: "got", n: markOn(two) });
      assert.deepEqual(calls, gone);
      assert.deepEqual(
        one.toShard.filter((frame) => frame.t === "close").map(({ code, reason, at }) => ({ code, reason, at })),
        [{ code: 1000, reason: "Reconnected", at: "old" }],
      );
      assert.deepEqual(acks(two), ["0", "1", "2 waiting 2", "2"]);
    } finally {
      mock.timers.reset();
    }
  });

  it("the mark got before REPLACE_WAIT_MS: the open goes when it passes; never got: after REPLACE_MAX_WAIT_MS", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    try {
      const early = await room();
      await early.take(early.two, open(2, "new"));
      await early.take(early.one, { t: "got", n: markOn(early.one) });
      assert.equal(early.calls.length, 2);
      mock.timers.tick(REPLACE_WAIT_MS);
      await settle();
      assert.equal(early.calls.length, 2);
      await early.take(early.two, { t: "got", n: markOn(early.two) });
      assert.deepEqual(early.calls, gone);
      const never = await room();
      await never.take(never.two, open(2, "new"));
      mock.timers.tick(REPLACE_MAX_WAIT_MS - 1);
      await settle();
      assert.equal(never.calls.length, 2);
      mock.timers.tick(1);
      await settle();
      assert.deepEqual(never.calls, gone);
    } finally {
      mock.timers.reset();
    }
  });

  it("what a slow link brings after REPLACE_WAIT_MS, with the mark's `got`, runs before the open: the old socket's messages and its own close", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    try {
      const { one, two, calls, take } = await room();
      await take(two, open(2, "new"));
      mock.timers.tick(REPLACE_WAIT_MS + 1_500);
      await settle();
      await take(one, { t: "frames", frames: [message(2, "alice", "sent before closing"), close(3)], got: markOn(one) });
      assert.deepEqual(calls, ["connect alice old", "connect bob bob", "message alice sent before closing", "close alice 1000 bye", "connect alice new"]);
      assert.equal(one.toShard.filter((frame) => frame.t === "close").length, 0);
    } finally {
      mock.timers.reset();
    }
  });

  it("a later socket of the client, from a third shard, waits behind the waiting one: the room meets the client's sockets in the order they opened", async () => {
    const { one, two, three, calls, take, linkThird } = await room();
    await take(two, open(2, "new"));
    linkThird();
    await take(three, hello(3));
    await take(three, open(1, "newer"));
    assert.deepEqual(calls, ["connect alice old", "connect bob bob"]);
    assert.deepEqual(acks(three), ["0", "1 waiting 1"], "the third shard holds its 101 too");
    await take(one, close(2));
    assert.deepEqual(calls, ["connect alice old", "connect bob bob", "close alice 1000 bye", "connect alice new"]);
    assert.deepEqual(acks(three).at(-1), "1 waiting 1", "and now waits for the new socket's close");
    await take(two, close(3));
    assert.deepEqual(calls, ["connect alice old", "connect bob bob", "close alice 1000 bye", "connect alice new", "close alice 1000 bye", "connect alice newer"]);
    assert.equal(acks(three).at(-1), "1");
  });

  it("a waiting socket its client closed before it opened (no 101, so it sent nothing) is never met and replaces nobody: it may be older than the socket the room has", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    try {
      const { one, two, calls, take } = await room();
      await take(two, open(2, "left"));
      await take(two, close(3));
      assert.deepEqual(acks(two).at(-1), "3", "no open waits: the shard forgets it");
      mock.timers.tick(REPLACE_MAX_WAIT_MS);
      await settle();
      await take(one, message(2, "alice", "still here"));
      assert.deepEqual(calls, ["connect alice old", "connect bob bob", "message alice still here"]);
      assert.equal(one.toShard.filter((frame) => frame.t === "close").length, 0, "the room's socket is not closed");
    } finally {
      mock.timers.reset();
    }
  });

  it("a client that gives up on a waiting socket and tries again waits no longer in all: its next open goes when the first would have", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    try {
      const { core, one, two, calls, take } = await room();
      // Shard one is unreachable: the marks never come back, so only REPLACE_MAX_WAIT_MS lets an open go.
      core.onLinkClose(one);
      await take(two, open(2, "left"));
      mock.timers.tick(REPLACE_MAX_WAIT_MS - 1_000);
      await settle();
      await take(two, close(3));
      await take(two, open(4, "again"));
      mock.timers.tick(1_000);
      await settle();
      assert.deepEqual(calls, ["connect alice old", "connect bob bob", "close alice 1000 Reconnected", "connect alice again"]);
    } finally {
      mock.timers.reset();
    }
  });

  it("an open that comes after the client gave up on another at once waits anew: what it keeps is the time that one waited, not since it began", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    try {
      const { two, calls, take } = await room();
      await take(two, open(2, "left"));
      await take(two, close(3));
      mock.timers.tick(REPLACE_MAX_WAIT_MS - 100);
      await settle();
      await take(two, open(4, "again"));
      mock.timers.tick(REPLACE_WAIT_MS - 1);
      await settle();
      assert.deepEqual(calls, ["connect alice old", "connect bob bob"], "it waits for the old socket's close as any reconnect does");
    } finally {
      mock.timers.reset();
    }
  });

  it("a waiting socket's close that comes with the `got` of its shard's mark still keeps it from running", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    try {
      const { one, two, calls, take } = await room();
      await take(two, open(2, "left"));
      await take(one, { t: "got", n: markOn(one) });
      mock.timers.tick(REPLACE_WAIT_MS);
      await settle();
      await take(two, { t: "frames", frames: [close(3)], got: markOn(two) });
      assert.deepEqual(calls, ["connect alice old", "connect bob bob"]);
      assert.equal(one.toShard.filter((frame) => frame.t === "close").length, 0);
    } finally {
      mock.timers.reset();
    }
  });

  it("an acknowledgement that let a waiting open go, lost with its link, is said again on the next link: the shard stops holding the client's 101", async () => {
    const { core, one, two, calls, take } = await room();
    await take(two, open(2, "new"));
    core.onLinkClose(two);
    await take(one, close(2));
    assert.deepEqual(calls.at(-1), "connect alice new");
    assert.deepEqual(acks(two), ["0", "1", "2 waiting 2"], "no link to say it on");
    await take(two, { ...hello(2), n: 2, acked: 2 });
    assert.deepEqual(acks(two).at(-1), "2", "nothing the shard did not know was taken, yet the hello is answered: no open waits");
  });

  it("a shard's new incarnation listing a socket this leader closed, whose close that shard never got, does not bring it back: its onClose ran once", async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    try {
      const { core, one, two, calls, take } = await room();
      // Shard one's link is down: what the leader sends it waits, the mark too.
      core.onLinkClose(one);
      await take(two, open(2, "new"));
      mock.timers.tick(REPLACE_MAX_WAIT_MS);
      await settle();
      await take(two, close(3));
      assert.deepEqual(calls, [...gone, "close alice 1000 bye"]);
      const old = { id: "alice", socket: "old", uri: "http://host/parties/main/lobby", key: "alice-key", kept: { state: null, attachment: null, tags: [] } };
      await take(one, { ...hello(1), incarnation: "shard-1-again", clients: [old] });
      // The shard carries out the close it was sent again, and relays it.
      await take(one, { t: "close", seq: 1, id: "alice", code: 1000, reason: "Reconnected" });
      assert.deepEqual(calls, [...gone, "close alice 1000 bye"]);
    } finally {
      mock.timers.reset();
    }
  });

  it("a shard's new incarnation listing a client whose id this leader gave a socket on another shard since does not take the id back", async () => {
    const { one, two, calls, take } = await room();
    const stale = { id: "alice", socket: "stale", uri: "http://host/parties/main/lobby", key: "alice-key", kept: { state: null, attachment: null, tags: [] } };
    await take(two, { ...hello(2), incarnation: "shard-2-again", clients: [stale, { ...stale, id: "bob", socket: "bob", key: "bob-key" }] });
    await take(one, message(2, "alice", "still mine"));
    assert.deepEqual(calls, ["connect alice old", "connect bob bob", "message alice still mine"]);
  });
});

describe("a reconnect on the same shard", () => {
  /** A shard whose link acknowledges every frame at once; `sent`: the frames it relayed, in order. */
  function shardWithLink() {
    const storage = memoryStorage();
    const sent: { t: string; id?: string; seq?: number; code?: number; reason?: string; data?: { text: string } }[] = [];
    let onFrame: ((event: MessageEvent) => void) | undefined;
    const link: LinkSocket = {
      readyState: 1,
      send: (text) => {
        const frame = JSON.parse(text as string) as { t: string; seq?: number; frames?: (typeof sent)[number][] };
        sent.push(...(frame.t === "frames" ? frame.frames! : [frame]));
        const last = frame.frames?.at(-1)?.seq ?? frame.seq;
        if (last !== undefined) queueMicrotask(() => onFrame?.(new MessageEvent("message", { data: JSON.stringify({ t: "ack", seq: last }) })));
      },
      close() {},
      addEventListener: (type: string, listener: (event: MessageEvent) => void) => void (type === "message" && (onFrame = listener)),
    };
    const sockets: (Conn & { readyState: number })[] = [];
    const host: ShardHost = {
      party: "main",
      storage,
      connections: (tag) => sockets.filter((conn) => conn.readyState === 1 && (tag === undefined || conn.id === tag)),
      openLink: async () => link,
      routerRoom: () => async () => new Response(null, { status: 204 }),
    };
    const shard = new ShardRelay(host, "lobby", 1);
    const connect = (name: string) => {
      let state: unknown = null;
      const conn: Conn & { readyState: number; name: string } = {
        id: "alice",
        name,
        uri: null,
        readyState: 1,
        get state() {
          return structuredClone(state);
        },
        setState: (next) => (state = structuredClone(next)),
        send() {},
        close() {},
      };
      sockets.push(conn);
      return { conn, opened: shard.onConnect(conn, { request: new Request("http://host/parties/router/lobby?_pk=alice&_psk=alice-key") }) };
    };
    const shown = () => sent.filter((frame) => frame.t !== "hello").map((frame) => (frame.t === "message" ? `message ${frame.data!.text}` : frame.t === "close" ? `close ${frame.code} ${frame.reason}` : frame.t));
    return { shard, connect, shown };
  }

  it("waits for the old socket's close: what the old socket sent is relayed first, then its close, then the new open, then what the new one sent meanwhile", async () => {
    const { shard, connect, shown } = shardWithLink();
    const old = connect("old");
    await old.opened;
    const next = connect("new");
    await settle();
    // The old socket's last message and its close reach the shard after the new socket's request.
    shard.onMessage(next.conn, "sent early");
    shard.onMessage(old.conn, "sent before closing");
    old.conn.readyState = 3;
    await shard.onClose(old.conn, 1000, "bye");
    await next.opened;
    assert.deepEqual(shown(), ["open", "message sent before closing", "close 1000 bye", "open", "message sent early"]);
  });

  it("replaces the old socket after REPLACE_WAIT_MS when its close never comes", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const { connect, shown } = shardWithLink();
      const old = connect("old");
      await settle();
      await old.opened;
      const next = connect("new");
      await settle();
      assert.deepEqual(shown(), ["open"]);
      mock.timers.tick(REPLACE_WAIT_MS);
      await next.opened;
      assert.deepEqual(shown(), ["open", "close 1000 Reconnected", "open"]);
    } finally {
      mock.timers.reset();
    }
  });

  it("a waiting socket its client left unopened, having sent nothing, is never relayed and replaces nobody: the socket it waited for may be newer", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const { shard, connect, shown } = shardWithLink();
      const newer = connect("newer");
      await settle();
      await newer.opened;
      const left = connect("left");
      await settle();
      left.conn.readyState = 3;
      await shard.onClose(left.conn, 1000, "bye");
      mock.timers.tick(REPLACE_WAIT_MS);
      await left.opened;
      await settle();
      assert.deepEqual(shown(), ["open"], "nothing of the left socket, and no close of the one it waited for");
    } finally {
      mock.timers.reset();
    }
  });
});

describe("a shard whose leader holds a client's open (its acknowledgements name it as waiting)", () => {
  it("holds the client's onConnect, so its 101, and leaves the socket out of broadcasts, until an acknowledgement no longer names it", async () => {
    let listener: ((event: MessageEvent) => void) | undefined;
    const link: LinkSocket = { readyState: 1, send() {}, close() {}, addEventListener: (type: string, on: (event: MessageEvent) => void) => void (type === "message" && (listener = on)) };
    const storage = memoryStorage();
    const received: string[] = [];
    let state: unknown = null;
    const alice: Conn = { id: "alice", uri: null, readyState: 1, get state() { return state; }, setState: (next) => (state = next), send: (message) => void received.push(String(message)), close() {} };
    const host: ShardHost = { party: "main", storage, connections: () => [alice], openLink: async () => link, routerRoom: () => async () => new Response(null, { status: 204 }) };
    const shard = new ShardRelay(host, "lobby", 2);
    const fromLeader = (frame: object) => listener?.(new MessageEvent("message", { data: JSON.stringify(frame) }));
    let opened = false;
    const connecting = shard.onConnect(alice, { request: new Request("http://host/parties/router/lobby?_pk=alice&_psk=alice-key") }).then(() => (opened = true));
    await settle();
    fromLeader({ t: "ack", seq: 1, waiting: [1] });
    fromLeader({ t: "broadcast", data: { text: "made before the party met alice" }, without: [], upTo: 1 });
    await settle();
    assert.equal(opened, false, "its onConnect waits");
    assert.deepEqual(received, []);
    fromLeader({ t: "ack", seq: 1 });
    await connecting;
    fromLeader({ t: "broadcast", data: { text: "after" }, without: [], upTo: 1 });
    assert.deepEqual(received, ["after"]);
  });
});

import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import type { Conn, LinkEnd, RoomStorage, ShardHost } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { ShardRelay } from "../src/runtime/shard.js";
import { unpack } from "../src/runtime/link-frames.js";
import { leaderHostWith } from "./helpers/leader-host.js";

// Node 20 has no CloseEvent; the workers runtime does (the leader dispatches one on a close).
globalThis.CloseEvent ??= class extends Event {
  constructor(type: string, readonly init: { code?: number; reason?: string } = {}) {
    super(type);
  }
} as unknown as typeof CloseEvent;

const MEGABYTE_TEXT = "x".repeat(1_000_000);
const settle = () => new Promise((resolve) => setImmediate(resolve));

function fakeLink(id: string): LinkEnd & { frames: { t: string; to?: string; code?: number; upTo?: number }[] } {
  const link = { id, readyState: 1, frames: [] as never[], send: (wire: string | ArrayBuffer) => link.frames.push(unpack(wire) as never), close: () => void (link.readyState = 3) };
  return link;
}

function leaderWith(links: LinkEnd[]) {
  return new LeaderCore(leaderHostWith(links), {});
}

const hello = (incarnation: string, clients: string[], acked = 0) => ({
  t: "hello",
  room: "lobby",
  incarnation,
  acked,
  clients: clients.map((id) => ({ id, uri: "http://host/parties/main/lobby", key: `${id}-key`, kept: { state: null, attachment: null, tags: [id] } })),
});
const open = (seq: number, id: string) => ({ t: "open", seq, id, uri: "http://host/parties/main/lobby", key: `${id}-key`, headers: [] });

/** A leader with alice and bob on shard 1, whose link then went down. */
async function leaderCutOff() {
  const first = fakeLink("party-shard-link-1-a");
  const links: LinkEnd[] = [first];
  const core = leaderWith(links);
  // Its start waits for the hellos of the links it has.
  await Promise.all([core.start(), core.onLinkFrame(first, JSON.stringify(hello("one", [])))]);
  for (const frame of [open(1, "alice"), open(2, "bob")]) await core.onLinkFrame(first, JSON.stringify(frame));
  await settle();
  // The shard says it got everything the leader sent so far (what it kept of alice and bob).
  await core.onLinkFrame(first, JSON.stringify({ t: "got", n: Math.max(...first.frames.map((frame: { n?: number }) => frame.n ?? 0)) }));
  first.close();
  core.onLinkClose(first);
  links.length = 0;
  return { core, relink: async (frame: object) => {
    const next = fakeLink("party-shard-link-1-b");
    links.push(next);
    await core.onLinkFrame(next, JSON.stringify(frame));
    return next.frames.filter((sent: { t: string }) => sent.t !== "welcome" && sent.t !== "ack");
  } };
}

describe("the leader's frames for a shard whose link is down", () => {
  it("go, after the shard restarted, only to the clients it still has; broadcasts only to them", async () => {
    const { core, relink } = await leaderCutOff();
    core.connection("alice")!.send("to alice");
    core.connection("bob")!.send("to bob");
    core.broadcast("to all");
    // The shard lost its memory meanwhile; only alice's socket outlived it.
    const frames = await relink(hello("two", ["alice"]));
    assert.deepEqual(frames.map((frame) => [frame.t, frame.to ?? frame.upTo]), [["send", "alice"], ["broadcast", 0]]);
  });

  it("past the outbox's bound, are not dropped one by one: the shard's clients are closed 1013 when it comes back", async () => {
    const { core, relink } = await leaderCutOff();
    for (let i = 0; i < 9; i++) core.connection("alice")!.send(MEGABYTE_TEXT);
    core.connection("bob")!.send("after the overflow");
    const frames = await relink(hello("one", ["alice", "bob"], 2));
    // Every client is closed, to be greeted again (after anything kept since the drop).
    assert.deepEqual(frames.slice(-2).map((frame) => [frame.t, frame.to, frame.code]), [["close", "alice", 1013], ["close", "bob", 1013]]);
    assert.ok(!frames.some((frame) => frame.t === "send" && frame.to === "alice"), "none of the dropped frames to alice");
  });
});

describe("a shard whose leader acknowledges nothing", () => {
  it("past its bound, closes its clients 1013 and starts afresh, instead of dropping its oldest frame (their open)", async () => {
    const { shard, alice, closed, storage } = await unansweredShard();
    for (let i = 0; i < 10; i++) shard.onMessage(alice, MEGABYTE_TEXT);
    await settle();
    assert.deepEqual(closed, [["alice", 1013]]);
    assert.equal(storage.size, 0, "alice's record is gone, so the next hello does not list her");
  });

  it("one message bigger than the bound alone is no stuck leader: 9 MiB of bytes waits, and nobody is closed", async () => {
    const { shard, alice, closed } = await unansweredShard();
    shard.onMessage(alice, new Uint8Array(9 * 1_048_576));
    await settle();
    assert.deepEqual(closed, []);
    await shard.onClose(alice, 1000, "bye"); // its onConnect stops waiting for the leader
  });
});

/** A shard with alice, whose link to the leader never opens: what alice sends stays unacknowledged. */
async function unansweredShard() {
  const closed: [string, number | undefined][] = [];
  const storage = new Map<string, unknown>();
  const alice: Conn = { id: "alice", uri: null, readyState: 1, state: null, setState: (state) => state, send() {}, close: (code) => void closed.push(["alice", code]) };
  const host: ShardHost = {
    party: "main",
    storage: {
      get: async (key: string) => storage.get(key),
      put: async (key: string, value: unknown) => void storage.set(key, value),
      delete: async (keys: string | string[]) => [keys].flat().forEach((key) => storage.delete(key)),
      list: async ({ prefix }: { prefix: string }) => new Map([...storage].filter(([key]) => key.startsWith(prefix))),
    } as RoomStorage,
    connections: () => (closed.length ? [] : [alice]),
    // The leader never answers: frames stay unacknowledged.
    openLink: () => new Promise(() => {}),
    routerRoom: () => async () => new Response(null, { status: 204 }),
  };
  const shard = new ShardRelay(host, "lobby", 1);
  // Its onConnect waits for an ack that never comes (the client would not see its socket open).
  void shard.onConnect(alice, { request: new Request("http://host/parties/router/lobby?_pk=alice&_psk=alice-key") });
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
  return { shard, alice, closed, storage };
}

describe("a frame to a shard over the link's WebSocket message limit (32 MiB)", () => {
  it("is logged naming the shard and the limit; one under it is not", async () => {
    const link = { ...fakeLink("party-shard-link-1-a"), send: () => undefined };
    const core = leaderWith([link]);
    await Promise.all([core.start(), core.onLinkFrame(link, JSON.stringify(hello("one", ["alice"])))]);
    const logged = mock.method(console, "error", () => undefined);
    try {
      core.broadcast(new Uint8Array(32 * 1_048_576 - 4_096));
      assert.equal(logged.mock.callCount(), 0);
      core.broadcast(new Uint8Array(32 * 1_048_576 + 1));
      assert.match(String(logged.mock.calls[0]?.arguments[0]), /a broadcast frame to shard 1 is \d+ bytes, over the 33554432-byte WebSocket message limit of its link/);
    } finally {
      logged.mock.restore();
    }
  });
});

describe("one message the party sends to many sockets one by one (as Yjs servers send each update)", () => {
  it("goes once per shard with the list of its recipients, in order with what the party sent around it", async () => {
    const [one, two] = [fakeLink("party-shard-link-1-a"), fakeLink("party-shard-link-2-a")];
    const core: LeaderCore = new LeaderCore(leaderHostWith([one, two]), {
      message: () => {
        core.connection("a")!.send("just a");
        for (const conn of core.connections()) conn.send(new Uint8Array([1, 2, 3]));
        core.broadcast("after");
      },
    });
    await Promise.all([core.start(), core.onLinkFrame(one, JSON.stringify(hello("one", ["a", "b", "c"]))), core.onLinkFrame(two, JSON.stringify(hello("two", ["d", "e"])))]);
    one.frames.length = two.frames.length = 0;
    await core.onLinkFrame(one, JSON.stringify({ t: "message", seq: 1, id: "a", data: { text: "go" } }));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const shown = (frames: unknown[]) => frames.filter((frame) => !["ack", "welcome"].includes((frame as { t: string }).t)).map((frame) => JSON.stringify(frame, (key, value) => (key === "n" ? undefined : key === "data" ? ("text" in value ? value.text : [...value.bytes]) : value)));
    assert.deepEqual(shown(one.frames), [
      JSON.stringify({ t: "broadcasts", items: [{ data: "just a", to: ["a"], at: [null] }, { data: [1, 2, 3], to: ["a", "b", "c"], at: [null, null, null] }, { data: "after", without: [], upTo: 1 }] }),
    ]);
    assert.deepEqual(shown(two.frames), [JSON.stringify({ t: "broadcasts", items: [{ data: [1, 2, 3], to: ["d", "e"], at: [null, null] }, { data: "after", without: [], upTo: 0 }] })]);
  });
});

describe("sends to a client whose close came while they were held", () => {
  it("are dropped: a shard whose link closed with its last client gets no frame and is not woken for them", async () => {
    const [one, two] = [fakeLink("party-shard-link-1-a"), fakeLink("party-shard-link-2-a")];
    const links: LinkEnd[] = [one, two];
    const woken: string[] = [];
    const host = { ...leaderHostWith(links), routerRoom: (room: string) => (woken.push(room), async () => new Response("{}")) };
    // As YServer relays an awareness change: to every connection, one by one.
    const core: LeaderCore = new LeaderCore(host, { message: () => void [...core.connections()].forEach((conn) => conn.send(new Uint8Array([7]))) });
    await Promise.all([core.start(), core.onLinkFrame(one, JSON.stringify(hello("one", ["a"]))), core.onLinkFrame(two, JSON.stringify(hello("two", ["d"])))]);
    one.frames.length = two.frames.length = 0;
    woken.length = 0;
    // In one timer turn: a's message (the sends are held), then d's close; its shard, empty, closes its link.
    await core.onLinkFrame(one, JSON.stringify({ t: "message", seq: 1, id: "a", data: { text: "cursor" } }));
    await core.onLinkFrame(two, JSON.stringify({ t: "close", seq: 1, id: "d", code: 1000, reason: "" }));
    two.close();
    core.onLinkClose(two);
    links.splice(links.indexOf(two), 1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.deepEqual(woken, [], "a shard was woken for a client that left it");
    assert.deepEqual(two.frames.filter((frame) => frame.t !== "ack"), []);
    assert.deepEqual(one.frames.filter((frame) => frame.t === "send" || frame.t === "broadcasts").length, 1, "a still gets its send");
  });
});

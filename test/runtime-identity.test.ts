import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import type { Conn, LeaderHost, LinkEnd, LinkSocket, ShardHost } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { ShardRelay } from "../src/runtime/shard.js";
import { memoryStorage } from "./helpers/memory-storage.js";

// Node 20 has no CloseEvent; the workers runtime does (the leader dispatches one on a close).
globalThis.CloseEvent ??= class extends Event {} as unknown as typeof CloseEvent;
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};
const GRACE_MS = 60_000;
const URI = "http://host/parties/main/lobby";

type Frame = { t: string; to?: string; code?: number; refused?: boolean };

/** A leader with one link per shard; `calls` is what the party saw, `frames(n)` what shard n was sent. */
async function leader(options: { direct?: string[] } = {}) {
  const links = new Map<number, LinkEnd & { frames: Frame[] }>();
  const linkOf = (shard: number) => {
    let link = links.get(shard);
    if (!link) {
      const frames: Frame[] = [];
      link = { id: `party-shard-link-${shard}-x`, readyState: 1, send: (text) => void frames.push(JSON.parse(text)), close() {}, frames };
      links.set(shard, link);
    }
    return link;
  };
  const direct = (options.direct ?? []).map((id): Conn => ({ id, uri: null, readyState: 1, state: null, setState: (state) => state, send() {}, close() {} }));
  const host: LeaderHost = {
    id: "lobby",
    env: {},
    hibernates: false,
    directConnections: () => direct,
    directConnection: (id) => direct.find((conn) => conn.id === id),
    links: () => [...links.values()],
    link: (id) => [...links.values()].find((link) => link.id === id),
    routerRoom: () => async () => new Response("{}"),
  };
  const calls: string[] = [];
  const core = new LeaderCore(host, {
    connect: (conn) => void calls.push(`connect ${conn.id}`),
    message: (conn, message) => void calls.push(`message ${conn.id} ${String(message)}`),
    close: (conn) => void calls.push(`close ${conn.id}`),
  });
  await core.start();
  const seqs = new Map<number, number>();
  const frame = async (shard: number, body: object) => {
    const seq = (seqs.get(shard) ?? 0) + 1;
    seqs.set(shard, seq);
    await core.onLinkFrame(linkOf(shard), JSON.stringify({ ...body, seq }));
    await settle();
  };
  const hello = async (shard: number, left: object[] = []) => {
    await core.onLinkFrame(linkOf(shard), JSON.stringify({ t: "hello", room: "lobby", incarnation: `shard-${shard}`, acked: 0, clients: [], left }));
  };
  const write = async (id: string, key: string, seq: number, text: string) =>
    (await core.request(new Request(URI, { method: "POST", body: text, headers: { "x-party-shard-connection": id, "x-party-shard-key": key, "x-party-shard-seq": String(seq), "x-party-shard-attempt": "1", "idempotency-key": `${id}-${key}-${seq}` } })))!.status;
  return {
    core,
    calls,
    hello,
    write,
    open: (shard: number, id: string, key: string | null) => frame(shard, { t: "open", id, uri: URI, key, headers: [] }),
    close: (shard: number, id: string) => frame(shard, { t: "close", id, code: 1000, reason: "" }),
    refusals: (shard: number) => (links.get(shard)?.frames ?? []).filter((sent) => sent.t === "close" && sent.refused).map((sent) => `${sent.to} ${sent.code}`),
    closes: (shard: number) => (links.get(shard)?.frames ?? []).filter((sent) => sent.t === "close" && !sent.refused).map((sent) => `${sent.to} ${sent.code}`),
  };
}

describe("an id belongs to its key at the leader", () => {
  it("a client that left takes its id back from whoever took it meanwhile, within the grace period; the squatter, gone, has no claim on it", async () => {
    mock.timers.enable({ apis: ["Date"], now: 1_700_000_000_000 });
    try {
      const room = await leader();
      for (const shard of [1, 2]) await room.hello(shard);
      await room.open(1, "victim", "victim-key");
      await room.close(1, "victim");
      // A free id is anyone's, as unsharded (a page reload comes back with a new key).
      await room.open(2, "victim", "squatter-key");
      // The victim comes back (partysocket reconnects with its key): the squatter is closed on its shard.
      await room.open(1, "victim", "victim-key");
      assert.deepEqual(room.closes(2), ["victim 1008"]);
      assert.deepEqual(room.calls, ["connect victim", "close victim", "connect victim", "close victim", "connect victim"]);
      // The squatter again, while the victim holds the id: refused, never met by the party.
      await room.open(2, "victim", "squatter-key");
      assert.deepEqual(room.refusals(2), ["victim 1008"]);
      assert.equal(room.calls.length, 5);
      // Past the grace period the victim's claim is over: whoever takes the free id keeps it.
      await room.close(1, "victim");
      mock.timers.tick(GRACE_MS + 1);
      await room.open(2, "victim", "someone-else");
      await room.open(1, "victim", "victim-key");
      assert.deepEqual(room.refusals(1), ["victim 1008"]);
    } finally {
      mock.timers.reset();
    }
  });

  it("a socket without a key never takes an id in use: not a keyless client's, not a keyed one's", async () => {
    const room = await leader();
    for (const shard of [1, 2]) await room.hello(shard);
    await room.open(1, "anon", null);
    await room.open(2, "anon", null);
    await room.open(1, "keyed", "keyed-key");
    await room.open(2, "keyed", null);
    assert.deepEqual(room.refusals(2), ["anon 1008", "keyed 1008"]);
    assert.deepEqual(room.calls, ["connect anon", "connect keyed"]);
  });

  it("a client on a shard cannot take the id of a direct socket; a direct socket with a shard client's id is none of the party's connections", async () => {
    const room = await leader({ direct: ["carol", "dave"] });
    await room.hello(1);
    await room.open(1, "carol", "carol-key");
    assert.deepEqual(room.refusals(1), ["carol 1008"]);
    assert.deepEqual(room.calls, []);
    // A shard's hello names erin, whose id a direct socket (the impostor PartyKit accepted before
    // the wrapper closes it) also holds: the party sees erin on the shard, once.
    const impostor = await leader({ direct: ["erin"] });
    await impostor.core.onLinkFrame(
      { id: "party-shard-link-1-x", readyState: 1, send() {}, close() {} },
      JSON.stringify({ t: "hello", room: "lobby", incarnation: "one", acked: 0, clients: [{ id: "erin", uri: URI, key: "erin-key", kept: { state: null, attachment: null, tags: ["erin"] } }] }),
    );
    assert.deepEqual([...impostor.core.connections()].map((conn) => [conn.id, "shard" in conn]), [["erin", true]]);
    assert.ok("shard" in impostor.core.connection("erin")!);
  });

  it("a leader woken from hibernation learns the departed ids and their write numbers from its shards' hellos", async () => {
    const room = await leader();
    await room.hello(1, [{ id: "victim", key: "victim-key", seq: 7, until: Date.now() + GRACE_MS }]);
    await room.hello(2);
    await room.open(2, "victim", "squatter-key");
    await room.open(1, "victim", "victim-key");
    assert.deepEqual(room.closes(2), ["victim 1008"]);
    // A captured write of the victim's earlier socket, replayed: its number is below what was taken.
    assert.equal(await room.write("victim", "victim-key", 6, "replayed"), 410);
    assert.equal(await room.write("victim", "victim-key", 8, "newer"), 200);
    await settle();
    assert.deepEqual(room.calls, ["connect victim", "close victim", "connect victim", "message victim newer"]);
  });

  it("write numbers go on across a reconnect after the leader's write memory (5 min) forgot them: a replayed write never runs", async () => {
    mock.timers.enable({ apis: ["Date"], now: 1_700_000_000_000 });
    try {
      const room = await leader();
      for (const shard of [1, 2]) await room.hello(shard);
      await room.open(1, "writer", "writer-key");
      for (const seq of [1, 2, 3]) assert.equal(await room.write("writer", "writer-key", seq, `w${seq}`), 200);
      await room.close(1, "writer");
      await room.open(2, "writer", "writer-key");
      mock.timers.tick(6 * 60_000);
      assert.equal(await room.write("writer", "writer-key", 2, "w2"), 410);
      assert.equal(await room.write("writer", "writer-key", 4, "w4"), 200);
    } finally {
      mock.timers.reset();
    }
  });
});

/** A shard with its storage and sockets; `sent` is what went over its link. */
/** `attachmentMax`: bytes of state a socket takes (setState throws past it, as workerd does: 2,048 on partykit dev's). */
function shard(attachmentMax = 16_384) {
  const storage = memoryStorage();
  const map = storage.map;
  const sent: { t: string; id?: string; left?: { id: string; seq: number }[] }[] = [];
  const listeners: ((event: MessageEvent) => void)[] = [];
  const link: LinkSocket & { closed: boolean } = {
    readyState: 1,
    closed: false,
    // As the leader: every frame taken and acknowledged (a shard sends the next ones on the ack).
    send: (text) => {
      const frame = JSON.parse(text as string) as { t: string; seq?: number; frames?: typeof sent };
      sent.push(...(frame.t === "frames" ? frame.frames! : [frame]));
      const last = frame.frames?.at(-1)?.seq ?? frame.seq;
      if (last !== undefined) queueMicrotask(() => fromLeader({ t: "ack", seq: last }));
    },
    close: () => void (link.closed = true),
    addEventListener: (type: string, listener: (event: MessageEvent) => void) => void (type === "message" && listeners.push(listener)),
  };
  const sockets: (Conn & { closedWith?: number; readyState: number })[] = [];
  const host: ShardHost = {
    party: "main",
    storage,
    connections: (tag) => sockets.filter((conn) => conn.readyState === 1 && (tag === undefined || conn.id === tag)),
    // A new link each time (the old one's listeners go with it), the same record of frames.
    openLink: async () => {
      listeners.length = 0;
      link.closed = false;
      return link;
    },
    routerRoom: () => async () => new Response(null, { status: 204 }),
  };
  const relay = new ShardRelay(host, "lobby", 1);
  const connect = async (id: string, key: string | null) => {
    let state: unknown = null;
    const conn = {
      id,
      uri: null,
      readyState: 1,
      closedWith: undefined as number | undefined,
      get state() {
        return state;
      },
      setState: (next: unknown) => {
        const bytes = JSON.stringify(next).length;
        if (bytes > attachmentMax) throw new Error(`A WebSocket 'attachment' cannot be larger than ${attachmentMax} bytes.'attachment' was ${bytes} bytes.`);
        return (state = next);
      },
      send() {},
      close(code?: number) {
        conn.closedWith = code;
        conn.readyState = 3;
      },
    };
    sockets.push(conn);
    await relay.onConnect(conn, { request: new Request(`http://host/parties/router/lobby?_pk=${id}${key ? `&_psk=${key}` : ""}`) });
    await settle();
    return conn;
  };
  const fromLeader = (frame: object) => listeners.forEach((listener) => listener(new MessageEvent("message", { data: JSON.stringify(frame) })));
  return { relay, map, sent, link, sockets, connect, fromLeader, leave: async (conn: Conn & { readyState: number }) => {
    conn.readyState = 3;
    await relay.onClose(conn, 1000, "");
    await settle();
  } };
}

describe("an id belongs to its key on a shard", () => {
  it("a departed client's record stays (marked left, with its write number): it takes its id back from whoever took it meanwhile, with its number", async () => {
    const s = shard();
    const victim = await s.connect("victim", "victim-key");
    s.fromLeader({ t: "keep", to: "victim", kept: { state: null, attachment: null, tags: [], seq: 4 } });
    await s.leave(victim);
    const squatter = await s.connect("victim", "squatter-key");
    assert.equal(squatter.closedWith, undefined, "a free id is anyone's");
    const back = await s.connect("victim", "victim-key");
    assert.equal(squatter.closedWith, 1008);
    assert.equal(back.closedWith, undefined);
    const frames = s.sent.filter((frame) => frame.t === "open" || frame.t === "close") as { t: string; id: string; taken?: number; displaced?: boolean }[];
    assert.deepEqual(frames.map((frame) => [frame.t, frame.taken ?? frame.displaced ?? null]), [["open", null], ["close", null], ["open", null], ["close", true], ["open", 4]]);
    // The squatter, back while the victim holds the id: refused.
    const again = await s.connect("victim", "squatter-key");
    assert.equal(again.closedWith, 1008);
  });

  it("a socket that took a departed client's id leaves, on its own close, the departed client's record: it keeps its place", async () => {
    const s = shard();
    const victim = await s.connect("victim", "victim-key");
    await s.leave(victim);
    const squatter = await s.connect("victim", "squatter-key");
    await s.leave(squatter);
    assert.equal((s.map.get("client:victim") as { key: string }).key, "victim-key");
    const reload = await s.connect("victim", "reload-key");
    assert.equal(reload.closedWith, undefined);
    await s.connect("victim", "victim-key");
    assert.equal(reload.closedWith, 1008);
  });

  it("a second socket without a key does not replace a keyless one", async () => {
    const s = shard();
    const first = await s.connect("anon", null);
    const second = await s.connect("anon", null);
    assert.equal(second.closedWith, 1008);
    assert.equal(first.closedWith, undefined);
  });

  it("names a departed client in its hello (a woken leader learns it), and forgets it when its grace period is over", async () => {
    mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_700_000_000_000 });
    try {
      const s = shard();
      const victim = await s.connect("victim", "victim-key");
      await s.leave(victim);
      const hellos = async () => {
        // A woken leader wakes the shard (its link closed when its last client left), or asks on the link it has.
        if (s.link.closed) await s.relay.onRequest(new Request("http://host/", { method: "POST", headers: { "x-party-shard-link": "wake" } }));
        else s.fromLeader({ t: "resync" });
        await settle();
        return s.sent.filter((frame) => frame.t === "hello").at(-1)!.left?.map((entry) => entry.id);
      };
      assert.deepEqual(await hellos(), ["victim"]);
      mock.timers.tick(GRACE_MS + 1_000);
      // Deleted once its grace is over, as the next client comes, without a hello (a shard that stays linked sends none).
      await s.connect("someone", "someone-key");
      assert.equal(s.map.has("client:victim"), false, "an expired record is deleted");
      assert.deepEqual(await hellos(), []);
    } finally {
      mock.timers.reset();
    }
  });

  it("does not forget a record whose id was taken again before the grace period was over", async () => {
    mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_700_000_000_000 });
    try {
      const s = shard();
      await s.leave(await s.connect("victim", "victim-key"));
      const reload = await s.connect("victim", "reload-key");
      // Its record rides in its socket's state; the departed one's is gone from storage.
      assert.equal(s.map.has("client:victim"), false);
      mock.timers.tick(GRACE_MS + 1_000);
      await s.connect("someone", "someone-key");
      assert.equal((await s.connect("victim", "victim-key")).closedWith, 1008, "the id is still the reload's");
      assert.equal(reload.closedWith, undefined);
    } finally {
      mock.timers.reset();
    }
  });

  it("what the leader sends a socket that closed never reaches the next socket of its id (frames name their socket)", async () => {
    const s = shard();
    const received: string[] = [];
    const first = await s.connect("victim", "victim-key");
    const firstTag = (s.sent.find((frame) => frame.t === "open") as { socket?: string }).socket;
    assert.ok(firstTag, "the open names its socket");
    await s.leave(first);
    const next = await s.connect("victim", "squatter-key");
    next.send = (message: unknown) => void received.push(String(message));
    // In flight when the first socket closed: a private send, a close and what the leader keeps of it.
    s.fromLeader({ t: "send", to: "victim", at: firstTag, data: { text: "for the first socket" } });
    s.fromLeader({ t: "close", to: "victim", at: firstTag, code: 4000, reason: "bye" });
    s.fromLeader({ t: "keep", to: "victim", at: firstTag, kept: { state: "first's", attachment: null, tags: [] } });
    await settle();
    assert.deepEqual(received, []);
    assert.equal(next.closedWith, undefined);
    assert.equal(s.map.has("kept:victim"), false);
    const nextTag = (s.sent.filter((frame) => frame.t === "open").at(-1) as { socket?: string }).socket;
    s.fromLeader({ t: "send", to: "victim", at: nextTag, data: { text: "for the next socket" } });
    assert.deepEqual(received, ["for the next socket"]);
  });

  it("a socket the leader refused its id goes without a trace: no record, no close relayed", async () => {
    const s = shard();
    const squatter = await s.connect("victim", "squatter-key");
    s.fromLeader({ t: "close", to: "victim", code: 1008, reason: "Connection id in use", refused: true });
    await settle();
    assert.equal(squatter.closedWith, 1008);
    await s.leave(squatter);
    assert.equal([...s.map.keys()].filter((key) => key.endsWith(":victim")).length, 0);
    assert.deepEqual(s.sent.filter((frame) => frame.t === "close"), []);
  });
});

describe("a shard vouches for a writer only while it holds the writer's socket under that key", () => {
  const check = async (s: ReturnType<typeof shard>, id: string, key: string | null) => {
    const headers: Record<string, string> = { "x-party-shard-connection": encodeURIComponent(id) };
    if (key !== null) headers["x-party-shard-key"] = key;
    return (await s.relay.onRequest(new Request("http://host/", { method: "GET", headers }))).status;
  };

  it("204 for the socket's own key; 404 for another key, no key, an id it does not hold, and a client that left", async () => {
    const s = shard();
    const writer = await s.connect("writer é", "writer-key");
    await s.connect("anon", null);
    assert.equal(await check(s, "writer é", "writer-key"), 204);
    assert.equal(await check(s, "writer é", "other-key"), 404);
    assert.equal(await check(s, "writer é", null), 404);
    assert.equal(await check(s, "anon", "any-key"), 404, "a keyless socket has no key to match");
    assert.equal(await check(s, "nobody", "writer-key"), 404);
    await s.leave(writer);
    assert.equal(await check(s, "writer é", "writer-key"), 404, "its record stays for the grace period, but it holds no socket here");
  });

  it("a socket refused its id is vouched for by nobody, and the id's holder still is", async () => {
    const s = shard();
    await s.connect("victim", "victim-key");
    const squatter = await s.connect("victim", "squatter-key");
    assert.equal(squatter.closedWith, 1008);
    assert.equal(await check(s, "victim", "squatter-key"), 404);
    assert.equal(await check(s, "victim", "victim-key"), 204);
  });

  it("a GET without a writer's headers is still the shard's count (and when it started, its storage operations and the router's write requests), as placement asks it", async () => {
    const s = shard();
    await s.connect("a", "key-a");
    // A writer's check: one write request.
    await s.relay.onRequest(new Request("http://host/", { headers: { "x-party-shard-connection": "a", "x-party-shard-key": "key-a" } }));
    const res = await s.relay.onRequest(new Request("http://host/", { method: "GET" }));
    const { connections, startedAt, storageOps, writeRequests, ...rest } = (await res.json()) as { connections: number; startedAt: number; storageOps: number; writeRequests: number };
    // The connect read the id's record (its own rides in the socket's state); the link's hello listed records and kept states.
    assert.deepEqual([connections, typeof startedAt, storageOps, writeRequests, rest], [1, "number", 3, 1, {}]);
  });
});

describe("a write's path at a shard takes no storage operation: the socket's state holds its key and write number", () => {
  const storageOps = async (s: ReturnType<typeof shard>) => ((await (await s.relay.onRequest(new Request("http://shard/"))).json()) as { storageOps: number }).storageOps;
  const check = (s: ReturnType<typeof shard>, key: string) => s.relay.onRequest(new Request("http://shard/", { headers: { "x-party-shard-connection": "alice", "x-party-shard-key": key } }));

  it("the writer's check and the leader's write number: answered and kept with no storage operation; a reconnect's open still names the number", async () => {
    const s = shard();
    await s.connect("alice", "alice-key");
    const tag = (s.sent.find((frame) => frame.t === "open") as { socket?: string }).socket;
    const before = await storageOps(s);
    assert.equal((await check(s, "alice-key")).status, 204);
    assert.equal((await check(s, "b".repeat(32))).status, 404);
    s.fromLeader({ t: "taken", to: "alice", at: tag, seq: 7 });
    await settle();
    assert.equal(await storageOps(s), before, "no storage operation");
    assert.equal(s.map.has("kept:alice"), false);
    await s.connect("alice", "alice-key");
    assert.equal((s.sent.filter((frame) => frame.t === "open").at(-1) as { taken?: number }).taken, 7);
  });

  it("the number outlives the socket: its departed record keeps it, for the client's return", async () => {
    const s = shard();
    const alice = await s.connect("alice", "alice-key");
    const tag = (s.sent.find((frame) => frame.t === "open") as { socket?: string }).socket;
    s.fromLeader({ t: "taken", to: "alice", at: tag, seq: 4 });
    await settle();
    await s.leave(alice);
    assert.equal((s.map.get("client:alice") as { seq?: number }).seq, 4);
    await s.connect("alice", "alice-key");
    assert.equal((s.sent.filter((frame) => frame.t === "open").at(-1) as { taken?: number }).taken, 4);
  });

  it("a connect takes no storage operation once a hello listed the records storage holds (the id's is read only if it may be there); what the leader keeps of a socket rides in its state, in storage only past what an attachment holds; a hello lists both", async () => {
    const s = shard();
    await s.connect("alice", "alice-key");
    const before = await storageOps(s);
    const bob = await s.connect("bob", "bob-key");
    assert.equal(await storageOps(s), before);
    assert.equal(s.map.has("client:bob"), false, "the record rides in the socket's state");
    const at = (bob.state as { partyShardSocket: string }).partyShardSocket;
    const small = { state: { votes: 1 }, attachment: null, tags: ["bob"] };
    s.fromLeader({ t: "keep", to: "bob", at, kept: small });
    await settle();
    assert.equal(await storageOps(s), before, "no storage operation for what fits");
    const big = { state: null, attachment: "x".repeat(20_000), tags: ["bob"] };
    s.fromLeader({ t: "keep", to: "alice", kept: big });
    await settle();
    assert.equal(await storageOps(s), before + 1, "one put for what does not fit");
    assert.deepEqual(s.map.get("kept:alice"), big);
    s.sent.length = 0;
    s.fromLeader({ t: "resync" });
    await settle();
    const hello = s.sent.find((frame) => frame.t === "hello") as unknown as { clients: { id: string; key: string; kept: unknown }[] };
    assert.deepEqual(hello.clients.map(({ id, key, kept }) => [id, key, kept]).sort(), [["alice", "alice-key", big], ["bob", "bob-key", small]]);
    // Bob leaves (his record stays, marked left) and comes back: that record is read, his write numbers go on.
    await s.leave(bob);
    const reads = await storageOps(s);
    await s.connect("bob", "bob-key");
    assert.ok((await storageOps(s)) > reads, "a departed client's record is read");
    assert.equal(s.map.has("client:bob"), false, "and, its id taken again, dropped");
  });

  it("a keyless client comes and goes without a storage operation (nothing of it was stored)", async () => {
    const s = shard();
    await s.connect("alice", "alice-key");
    const before = await storageOps(s);
    await s.leave(await s.connect("anon", null));
    assert.equal(await storageOps(s), before);
  });

  it("what does not fit in a socket's attachment goes to storage: a long URL's record, a big kept state; a write number past a full state moves the kept state out", async () => {
    const s = shard(700);
    const token = "t".repeat(650);
    const long = { id: "long", uri: null, readyState: 1, state: null as unknown, closedWith: undefined as number | undefined, send() {}, close() {}, setState(next: unknown) {
      if (JSON.stringify(next).length > 700) throw new Error("A WebSocket 'attachment' cannot be larger than 700 bytes.");
      return (long.state = next);
    } };
    s.sockets.push(long);
    await s.relay.onConnect(long, { request: new Request(`http://host/parties/router/lobby?_pk=long&_psk=long-key&token=${token}`) });
    assert.equal((s.map.get("client:long") as { key: string }).key, "long-key", "the record that does not fit is stored");
    assert.equal((long.state as { partyShardKey: string }).partyShardKey, "long-key", "the key still rides in the state (a write's check)");
    const bob = await s.connect("bob", "bob-key");
    assert.equal(s.map.has("client:bob"), false);
    const at = (bob.state as { partyShardSocket: string }).partyShardSocket;
    const kept = { state: { note: "n".repeat(500) }, attachment: null, tags: ["bob"] };
    s.fromLeader({ t: "keep", to: "bob", at, kept });
    await settle();
    assert.equal(s.map.has("kept:bob"), false, "it fits");
    // The write number tips the state over: what the leader keeps moves to storage, the number stays.
    s.fromLeader({ t: "taken", to: "bob", at, seq: 123_456_789 });
    await settle();
    assert.deepEqual(s.map.get("kept:bob"), kept);
    assert.equal((bob.state as { partyShardSeq: number }).partyShardSeq, 123_456_789);
    // A smaller one fits again: back in the state, out of storage.
    const small = { state: { note: "short" }, attachment: null, tags: ["bob"] };
    s.fromLeader({ t: "keep", to: "bob", at, kept: small });
    await settle();
    assert.equal(s.map.has("kept:bob"), false);
    s.sent.length = 0;
    s.fromLeader({ t: "resync" });
    await settle();
    const hello = s.sent.find((frame) => frame.t === "hello") as unknown as { clients: { id: string; kept: { seq?: number } }[] };
    assert.deepEqual(hello.clients.map(({ id, kept }) => [id, kept.seq ?? 0, (kept as { state?: unknown }).state ?? null]).sort(), [["bob", 123_456_789, { note: "short" }], ["long", 0, null]]);
  });

  it("a socket accepted before keys rode in its state is checked against its record", async () => {
    const s = shard();
    const alice = await s.connect("alice", "alice-key");
    // As a runtime before this one left it: the socket's tag in its state, its record in storage.
    const socket = (alice.state as { partyShardSocket: string }).partyShardSocket;
    alice.setState({ partyShardSocket: socket });
    s.map.set("client:alice", { id: "alice", socket, uri: URI, key: "alice-key" });
    assert.equal((await check(s, "alice-key")).status, 204);
    assert.equal((await check(s, "b".repeat(32))).status, 404);
  });
});

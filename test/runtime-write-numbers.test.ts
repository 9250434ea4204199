import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import type { Conn, LeaderHost, LinkEnd, LinkSocket, ShardHost } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { RecentWrites, Sequences } from "../src/runtime/leader-writes.js";
import { ShardRelay } from "../src/runtime/shard.js";
import { memoryStorage } from "./helpers/memory-storage.js";

globalThis.CloseEvent ??= class extends Event {} as unknown as typeof CloseEvent;
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};


/** A client socket whose state the platform keeps (its attachment). */
function socket(id: string): Conn & { readyState: number } {
  const conn = { id, uri: null, readyState: 1, state: null as unknown, setState: (state: unknown) => (conn.state = structuredClone(state)), send() {}, close() {} };
  return conn;
}

describe("a socket replaced by its own client (same id, same key) keeps its write numbers", () => {
  it("the shard names the old socket's highest write number in the new socket's open", async () => {
    const storage = memoryStorage();
    const sent: { t: string; taken?: number }[] = [];
    // As the leader: every frame taken and acknowledged (a shard sends the next ones on the ack).
    let onFrame: ((event: MessageEvent) => void) | undefined;
    const link: LinkSocket = {
      readyState: 1,
      send: (text) => {
        const frame = JSON.parse(text as string) as { t: string; seq?: number; frames?: typeof sent & { seq: number }[] };
        sent.push(...(frame.t === "frames" ? frame.frames! : [frame]));
        const last = frame.frames?.at(-1)?.seq ?? frame.seq;
        if (last !== undefined) queueMicrotask(() => onFrame?.(new MessageEvent("message", { data: JSON.stringify({ t: "ack", seq: last }) })));
      },
      close() {},
      addEventListener: (type: string, listener: (event: MessageEvent) => void) => void (type === "message" && (onFrame = listener)),
    };
    const sockets: Conn[] = [];
    const host: ShardHost = {
      party: "main",
      storage,
      connections: (tag) => sockets.filter((conn) => tag === undefined || conn.id === tag),
      openLink: async () => link,
      routerRoom: () => async () => new Response(null, { status: 204 }),
    };
    const shard = new ShardRelay(host, "lobby", 1);
    const request = () => ({ request: new Request("http://host/parties/router/lobby?_pk=alice&_psk=alice-key") });
    const first = socket("alice");
    sockets.push(first);
    await shard.onConnect(first, request());
    // What the leader mirrored to the shard: alice's writes up to 5 were taken.
    onFrame?.(new MessageEvent("message", { data: JSON.stringify({ t: "keep", to: "alice", kept: { state: null, attachment: null, tags: ["alice"], seq: 5 } }) }));
    const second = socket("alice");
    sockets.push(second);
    await shard.onConnect(second, request());
    await settle();
    const opens = sent.filter((frame) => frame.t === "open");
    assert.equal(opens.length, 2);
    assert.equal(opens[1]!.taken, 5);
  });

  it("a leader that lost its memory (evicted) refuses the old socket's abandoned write after the new open", async () => {
    const sent: string[] = [];
    const link: LinkEnd = { id: "party-shard-link-1-x", readyState: 1, send: (text) => void sent.push(text), close() {} };
    const host: LeaderHost = { id: "lobby", env: {}, hibernates: false, directConnections: () => [], directConnection: () => undefined, links: () => [link], link: () => link, routerRoom: () => async () => new Response("{}") };
    const ran: string[] = [];
    const core = new LeaderCore(host, { message: (_conn, message) => void ran.push(String(message)) });
    await core.start();
    await core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "a", acked: 0, clients: [] }));
    await core.onLinkFrame(link, JSON.stringify({ t: "open", seq: 1, id: "alice", uri: "http://host/parties/main/lobby", key: "alice-key", headers: [], taken: 5 }));
    await settle();
    const write = (seq: number, text: string) =>
      core.request(new Request("http://host/parties/main/lobby", { method: "POST", body: text, headers: { "x-party-shard-connection": "alice", "x-party-shard-key": "alice-key", "x-party-shard-seq": String(seq), "x-party-shard-attempt": "1", "idempotency-key": `w${seq}` } }));
    assert.equal((await write(3, "abandoned"))?.status, 410);
    assert.equal((await write(6, "newer"))?.status, 200);
    assert.deepEqual(ran, ["newer"]);
  });
});

describe("the leader's memory of writes is bounded in bytes, and never forgets a write its client may still retry", () => {
  const digest = "d".repeat(64);
  const done = Promise.resolve();

  it("past WRITE_MEMORY_BYTES of writes younger than 20 s it takes no new write (503) and still knows every one of them", () => {
    mock.timers.enable({ apis: ["Date"], now: 0 });
    try {
      const recent = new RecentWrites();
      let added = 0;
      for (; !recent.full(); added++) recent.add(`conn\n${String(added).padStart(300, "k")}`, digest, done);
      assert.ok(added > 10_000 && added < 30_000, `${added} writes fill 16 MiB`);
      assert.equal(recent.find(`conn\n${"0".padStart(300, "k")}`, digest), done, "the oldest young write is still known");
      mock.timers.tick(19_999);
      assert.equal(recent.full(), true);
      mock.timers.tick(2);
      // Older than 20 s: the oldest go, down to the bound; the write memory takes writes again.
      assert.equal(recent.full(), false);
      assert.equal(recent.find(`conn\n${"0".padStart(300, "k")}`, digest), undefined);
      assert.equal(recent.find(`conn\n${String(added - 1).padStart(300, "k")}`, digest), done);
    } finally {
      mock.timers.reset();
    }
  });

  it("keeps write numbers within SEQ_MEMORY_BYTES, the least recently written connection forgotten first", () => {
    const sequences = new Sequences();
    const key = (i: number) => `${String(i).padStart(128, "c")}\n${"k".repeat(128)}`;
    for (let i = 0; i < 20_000; i++) sequences.set(key(i), 1);
    sequences.set(key(0), 2);
    const kept = (sequences as unknown as { entries: Map<string, unknown> }).entries.size;
    assert.ok(kept < 20_000 && kept > 5_000, `${kept} entries in 8 MiB`);
    assert.equal(sequences.get(key(0)), 2, "written last, so kept");
    assert.equal(sequences.get(key(1)), 0, "the oldest is forgotten");
    assert.equal(sequences.get(key(19_999)), 1);
  });
});

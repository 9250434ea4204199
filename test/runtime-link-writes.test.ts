/**
 * Routed writes ride the shard's link: a write from a writer the shard holds goes to a leader
 * that says it takes them (`welcome` with `writes`) as a numbered `write` frame, with whatever
 * else is made meanwhile, and is answered by the leader's `wrote` of that frame's number; it goes
 * by request when the leader is from before, or it is over LINK_WRITE_MAX_BYTES; a new leader
 * leaves the writes the last one took unanswerable (503), and takes those it never acknowledged
 * again; a write waiting for its answer holds the link up. The leader runs a `write` frame as a
 * forwarded write (its key checked, once per idempotency key however it comes) and answers it
 * on the shard's link, never to a later incarnation of that shard.
 */
import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { WRITES_TYPE, type ForwardedWrite } from "../src/runtime/forwarded-writes.js";
import type { Conn, LinkEnd, ShardHost } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { leaderFrames, pack, unpack } from "../src/runtime/link-frames.js";
import { UNKNOWN_CONNECTION, toBase64, type Data, type LeaderFrame, type RelayFrame, type ShardFrame } from "../src/runtime/protocol.js";
import { ShardRelay } from "../src/runtime/shard.js";
import { LINK_WRITE_MAX_BYTES } from "../src/runtime/shard-writes.js";
import { leaderHostWith } from "./helpers/leader-host.js";
import { memoryStorage } from "./helpers/memory-storage.js";
import { waitFor } from "./helpers/wait.js";

globalThis.CloseEvent ??= class extends Event {} as unknown as typeof CloseEvent;
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};
type WriteFrame = Extract<RelayFrame, { t: "write" }>;
const textOf = (data: Data) => ("text" in data ? data.text : "bytes" in data ? new TextDecoder().decode(data.bytes) : atob(data.base64));
const pending = (promise: Promise<unknown>) => Promise.race([promise.then(() => "settled"), settle().then(() => "pending")]);

/** A POST of a routed write, as the router sends it to the writer's shard (x-cf-ray: a header the leader never reads). */
const writeTo = (id: string, text: string) =>
  new Request("http://shard/", { method: "POST", body: text, headers: { "x-party-shard-connection": id, "x-party-shard-key": `${id}-key`, "x-party-shard-attempt": "1", "idempotency-key": `${id}:${text}`, "x-cf-ray": "not forwarded" } });

/** A shard whose links record what it sends (a new link each time it links); the test plays the leader, and its room answers writes sent by request. */
function shard() {
  const links: { readyState: number; messages: ShardFrame[]; closed: number; on: Map<string, (event: MessageEvent) => void> }[] = [];
  const requests: { type: string | null; writes: ForwardedWrite[] }[] = [];
  const sockets: Conn[] = [];
  const host: ShardHost = {
    party: "main",
    storage: memoryStorage(),
    connections: (tag) => sockets.filter((conn) => tag === undefined || conn.id === tag),
    openLink: async () => {
      const on = new Map<string, (event: MessageEvent) => void>();
      const link = { readyState: 1, messages: [] as ShardFrame[], closed: 0, on, send: (wire: string | ArrayBuffer) => void link.messages.push(unpack<ShardFrame>(wire)), close: () => void link.closed++, addEventListener: (type: string, listener: (event: MessageEvent) => void) => void on.set(type, listener) };
      links.push(link);
      return link;
    },
    routerRoom: () => async () => new Response(null, { status: 204 }),
    leaderRoom: () => async (_path, init) => {
      const { writes } = JSON.parse(init.body as string) as { writes: ForwardedWrite[] };
      requests.push({ type: new Headers(init.headers).get("content-type"), writes });
      return Response.json({ answers: writes.map(() => ({ status: 200, headers: [], body: toBase64(new TextEncoder().encode("by request")) })) });
    },
  };
  const relay = new ShardRelay(host, "lobby", 1);
  const link = () => links.at(-1)!;
  const fromLeader = (frame: LeaderFrame) => link().on.get("message")?.(new MessageEvent("message", { data: JSON.stringify(frame) }));
  const frames = (on = link()) => on.messages.flatMap((message): RelayFrame[] => (message.t === "frames" ? message.frames : message.t === "hello" || message.t === "got" ? [] : [message]));
  const writeFrames = (on = link()) => frames(on).filter((frame): frame is WriteFrame => frame.t === "write");
  /** Acknowledges every frame sent on the link so far. */
  const ackAll = () => fromLeader({ t: "ack", seq: Math.max(0, ...frames().map((frame) => frame.seq)) });
  const connect = (id: string) => {
    let state: unknown = null;
    const conn: Conn = { id, uri: null, readyState: 1, get state() { return state; }, setState: (next) => (state = next), send() {}, close() {} };
    sockets.push(conn);
    return relay.onConnect(conn, { request: new Request(`http://host/parties/router/lobby?_pk=${id}&_psk=${id}-key`) });
  };
  /** The link broke: the shard links again (after its backoff), and says hello on the new link. */
  const relink = async () => {
    const old = link();
    old.readyState = 3;
    old.on.get("close")?.(new MessageEvent("close"));
    await waitFor("the shard linked again", () => links.length > links.indexOf(old) + 1 && link().messages.length > 0, () => "", 2_000);
    await settle();
  };
  const write = (id: string, text: string) => relay.onRequest(writeTo(id, text));
  return { relay, link, requests, fromLeader, writeFrames, ackAll, connect, relink, write };
}

/** A shard with `ids` connected (their opens acknowledged) and welcomed by leader L1 as `welcome` says. */
async function welcomed(ids: string[], welcome: { writes?: true; hibernates?: boolean }) {
  const s = shard();
  const opening = ids.map((id) => s.connect(id));
  await settle();
  s.fromLeader({ t: "welcome", leader: "L1", ...welcome });
  for (const _ of ids) s.ackAll();
  await Promise.all(opening);
  return s;
}

/** The write frames on the link, once `count` have gone (with nothing in flight, MERGE_MS after they were made), none by request. */
async function sentWrite(s: ReturnType<typeof shard>, count = 1): Promise<WriteFrame[]> {
  await waitFor(`${count} write frame(s) on the link`, () => s.writeFrames().length >= count || s.requests.length > 0, () => "", 2_000);
  assert.equal(s.requests.length, 0, "no request to the leader's room");
  return s.writeFrames();
}

describe("a shard sends a routed write on its link when its leader takes them there", () => {
  it("one `write` frame: the writer's id, only the headers the leader reads, the body's bytes; the leader's `wrote` of its number answers the POST", async () => {
    const s = await welcomed(["alice"], { writes: true });
    const answer = s.write("alice", "hello");
    const [frame] = await sentWrite(s);
    assert.equal(frame!.id, "alice");
    assert.deepEqual(Object.fromEntries(frame!.headers), { "content-type": "text/plain;charset=UTF-8", "idempotency-key": "alice:hello", "x-party-shard-connection": "alice", "x-party-shard-key": "alice-key", "x-party-shard-attempt": "1" });
    assert.ok("bytes" in frame!.data);
    assert.equal(textOf(frame!.data), "hello");
    s.ackAll();
    assert.equal(await pending(answer), "pending", "an ack takes the frame; only a `wrote` answers it");
    s.fromLeader({ t: "wrote", seq: frame!.seq, status: 200, body: "ok", n: 1 });
    const res = await answer;
    assert.deepEqual([res.status, await res.text(), res.headers.get("x-party-shard-batch")], [200, "ok", "1"]);
    assert.equal(s.requests.length, 0);
  });

  it("several writers' writes made at once, with nothing in flight, go in one link message; each is answered by the `wrote` of its own frame", async () => {
    const s = await welcomed(["alice", "bob", "carol"], { writes: true });
    const before = s.link().messages.length;
    const answers = ["alice", "bob", "carol"].map((id) => s.write(id, `from ${id}`));
    const sent = await sentWrite(s, 3);
    assert.deepEqual(s.link().messages.slice(before).map((message) => message.t), ["frames"]);
    assert.deepEqual(sent.map((frame) => [frame.id, textOf(frame.data)]).sort(), [["alice", "from alice"], ["bob", "from bob"], ["carol", "from carol"]]);
    s.ackAll();
    // Answered in another order than sent, each with its own status.
    sent.reverse().forEach((frame, i) => s.fromLeader({ t: "wrote", seq: frame.seq, status: frame.id === "bob" ? 425 : 200, body: `${frame.id} done`, n: i + 1 }));
    const got = await Promise.all(answers.map(async (answer) => [(await answer).status, await (await answer).text()]));
    assert.deepEqual(got, [[200, "alice done"], [425, "bob done"], [200, "carol done"]]);
    assert.equal(s.requests.length, 0);
  });
});

describe("a routed write goes by request when the link cannot take it", () => {
  it("a leader from before link writes (its welcome does not say `writes`) gets them by request; a leader that says it does, on the link", async () => {
    const s = await welcomed(["alice"], {});
    const res = await s.write("alice", "one");
    assert.deepEqual([res.status, await res.text()], [200, "by request"]);
    assert.deepEqual(s.requests.map(({ type, writes }) => [type, writes.map((write) => atob(write.body))]), [[WRITES_TYPE, ["one"]]]);
    assert.deepEqual(s.writeFrames(), []);
    // That leader is replaced by one of this runtime, on the next link.
    await s.relink();
    s.fromLeader({ t: "welcome", leader: "L2", writes: true });
    const answer = s.write("alice", "two");
    await waitFor("a write frame on the new link", () => s.writeFrames().length > 0 || s.requests.length > 1, () => "", 2_000);
    assert.deepEqual([s.requests.length, s.writeFrames().map((frame) => textOf(frame.data))], [1, ["two"]]);
    s.fromLeader({ t: "wrote", seq: s.writeFrames()[0]!.seq, status: 200, body: "on the link", n: 1 });
    assert.equal(await (await answer).text(), "on the link");
  });

  it("a write over LINK_WRITE_MAX_BYTES goes by request; one of exactly LINK_WRITE_MAX_BYTES, on the link", async () => {
    const s = await welcomed(["alice"], { writes: true });
    const big = await s.write("alice", "x".repeat(LINK_WRITE_MAX_BYTES + 1));
    assert.deepEqual([big.status, await big.text()], [200, "by request"]);
    assert.deepEqual(s.requests.map(({ type, writes }) => [type, writes.length]), [[WRITES_TYPE, 1]]);
    assert.deepEqual(s.writeFrames(), []);
    const answer = s.write("alice", "y".repeat(LINK_WRITE_MAX_BYTES));
    await waitFor("a write frame on the link", () => s.writeFrames().length > 0 || s.requests.length > 1, () => "", 2_000);
    assert.equal(s.requests.length, 1);
    const [frame] = s.writeFrames();
    assert.equal("bytes" in frame!.data && frame!.data.bytes.byteLength, LINK_WRITE_MAX_BYTES);
    s.fromLeader({ t: "wrote", seq: frame!.seq, status: 200, body: "ok", n: 1 });
    assert.equal((await answer).status, 200);
  });

  it("a write the router streamed here is bounded here (1 MiB): a bigger one is answered 413 and goes nowhere; a stranger's is not read at all", async () => {
    const s = await welcomed(["alice"], { writes: true });
    const streamOf = (bytes: number) => {
      const pulled = { chunks: 0 };
      let left = bytes;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (left <= 0) return controller.close();
          pulled.chunks++;
          const chunk = new Uint8Array(Math.min(65_536, left));
          left -= chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      return { body, pulled };
    };
    const post = (id: string, key: string, body: ReadableStream<Uint8Array>) =>
      s.relay.onRequest(new Request("http://shard/", { method: "POST", body, headers: { "x-party-shard-connection": id, "x-party-shard-key": key, "idempotency-key": `${id}:big` }, duplex: "half" } as RequestInit));
    const big = streamOf(1_048_576 + 1);
    const res = await post("alice", "alice-key", big.body);
    assert.equal(res.status, 413);
    const stranger = streamOf(2_097_152);
    assert.equal((await post("alice", "not-alice-key", stranger.body)).status, 404);
    assert.ok(stranger.pulled.chunks <= 1, `${stranger.pulled.chunks} chunks of a stranger's body were read`);
    await settle();
    assert.deepEqual([s.requests.length, s.writeFrames().length], [0, 0]);
  });
});

describe("a write on the link when its leader changes", () => {
  it("a new leader on the next link: the write the last one took is answered 503 (the router retries it); the one it never acknowledged is sent again and answered by the new leader", async () => {
    const s = await welcomed(["alice", "bob"], { writes: true });
    const taken = s.write("alice", "taken");
    await sentWrite(s);
    s.ackAll();
    const notTaken = s.write("bob", "not taken");
    const [, notTakenFrame] = await sentWrite(s, 2);
    const first = s.link();
    await s.relink();
    assert.notEqual(s.link(), first);
    // Sent again after the hello, before any welcome: the shard cannot know yet which leader it is.
    assert.deepEqual(s.writeFrames().map((frame) => [frame.seq, frame.id, frame.retry]), [[notTakenFrame!.seq, "bob", true]]);
    assert.equal(await pending(taken), "pending");
    s.fromLeader({ t: "welcome", leader: "L2", writes: true });
    assert.equal(await pending(taken), "settled", "answered at the welcome (not when the shard gives up on it, 9 s later)");
    assert.equal((await taken).status, 503);
    assert.equal(await pending(notTaken), "pending", "the new leader takes it");
    s.fromLeader({ t: "ack", seq: notTakenFrame!.seq });
    s.fromLeader({ t: "wrote", seq: notTakenFrame!.seq, status: 200, body: "ok", n: 1 });
    assert.deepEqual([(await notTaken).status, await (await notTaken).text()], [200, "ok"]);
  });

  it("the same leader on the next link: the write it took still waits for its `wrote`, which that leader sends again there", async () => {
    const s = await welcomed(["alice"], { writes: true });
    const taken = s.write("alice", "taken");
    const [frame] = await sentWrite(s);
    s.ackAll();
    await s.relink();
    s.fromLeader({ t: "welcome", leader: "L1", writes: true });
    assert.equal(await pending(taken), "pending");
    s.fromLeader({ t: "wrote", seq: frame!.seq, status: 200, body: "ok", n: 1 });
    assert.equal((await taken).status, 200);
  });
});

describe("a write waiting for its answer keeps the link up", () => {
  it("an idle link of a hibernating party does not close while a write waits for its `wrote`; once answered, it closes when idle", async () => {
    mock.timers.enable({ apis: ["Date", "setTimeout"], now: 1_700_000_000_000 });
    try {
      const s = await welcomed(["alice"], { writes: true, hibernates: true });
      const answer = s.write("alice", "hello");
      // MERGE_MS after the shard took it (its key checked, its body read), the frame goes.
      for (let i = 0; i < 20 && s.writeFrames().length === 0; i++) {
        await settle();
        mock.timers.tick(5);
      }
      const [frame] = s.writeFrames();
      assert.ok(frame, "a write frame on the link");
      s.ackAll();
      mock.timers.tick(6_000); // past IDLE_LINK_MS, under the write's 9 s
      assert.equal(s.link().closed, 0, "the write waits for its answer on this link");
      s.fromLeader({ t: "wrote", seq: frame.seq, status: 200, body: "ok", n: 1 });
      assert.equal((await answer).status, 200);
      mock.timers.tick(5_500);
      assert.equal(s.link().closed, 1, "answered: idle, it closes");
    } finally {
      mock.timers.reset();
    }
  });
});

describe("the leader runs a shard's `write` frame as a forwarded write and answers it on the link", () => {
  /** A leader with alice connected through shard 1 (key alice-key); what it sends that shard is recorded. */
  async function leaderWithAlice() {
    const sent: LeaderFrame[] = [];
    const link: LinkEnd = { id: "party-shard-link-1-a", readyState: 1, send: (wire) => void sent.push(...leaderFrames(unpack<LeaderFrame>(wire))), close() {} };
    const links: LinkEnd[] = [];
    const ran: [Conn, string][] = [];
    /** What onMessage returns (a handler that settles when the test says). */
    let returns: Promise<void> | undefined;
    /** The party's handlers in the order they ran. */
    const handlers: string[] = [];
    const core = new LeaderCore(leaderHostWith(links), {
      message: (conn, message) => (ran.push([conn, String(message)]), handlers.push(`onMessage ${conn.id} ${String(message)} (readyState ${conn.readyState})`), returns),
      close: (conn) => void handlers.push(`onClose ${conn.id}`),
    });
    await core.start();
    links.push(link);
    await core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s1", n: 1, acked: 0, clients: [] } satisfies ShardFrame));
    await core.onLinkFrame(link, JSON.stringify({ t: "open", seq: 1, id: "alice", uri: "http://h/parties/main/lobby", key: "alice-key", headers: [] } satisfies ShardFrame));
    await settle();
    const headers = (key: string, text: string): [string, string][] => [["content-type", "text/plain;charset=UTF-8"], ["idempotency-key", `alice:${text}`], ["x-party-shard-connection", "alice"], ["x-party-shard-key", key], ["x-party-shard-attempt", "1"]];
    const wrote = () => sent.flatMap((frame) => (frame.t === "wrote" ? [{ seq: frame.seq, status: frame.status, body: frame.body }] : []));
    /** A write frame as the shard packs it (binary: its body as bytes); resolves once the leader answered it (the write's digest is hashed off the thread). */
    const writeFrame = async (seq: number, text: string, key = "alice-key") => {
      await core.onLinkFrame(link, pack({ t: "write", seq, id: "alice", headers: headers(key, text), data: { bytes: new TextEncoder().encode(text) } }));
      await waitFor(`the leader's wrote of ${seq}`, () => wrote().some((answer) => answer.seq === seq), () => JSON.stringify(sent), 2_000);
      await settle();
    };
    return { core, link, ran, handlers, sent, wrote, writeFrame, headers, slow: (run: Promise<void>) => (returns = run) };
  }

  it("runs onMessage once as the connection, with the message, and sends `wrote` {its seq, 200} on the shard's link", async () => {
    const { core, ran, sent, wrote, writeFrame } = await leaderWithAlice();
    await writeFrame(2, "hello");
    assert.deepEqual(ran.map(([conn, text]) => [conn.id, text]), [["alice", "hello"]]);
    assert.equal(ran[0]![0], core.connection("alice"), "the sender is alice's connection");
    assert.deepEqual(wrote(), [{ seq: 2, status: 200, body: "ok" }]);
    assert.deepEqual(sent.filter((frame) => frame.t === "ack").at(-1), { t: "ack", seq: 2 });
  });

  it("a wrong key: `wrote` 425, onMessage does not run", async () => {
    const { ran, wrote, writeFrame } = await leaderWithAlice();
    await writeFrame(2, "forged", "wrong-key");
    assert.deepEqual(wrote(), [{ seq: 2, status: 425, body: UNKNOWN_CONNECTION }]);
    assert.deepEqual(ran, []);
  });

  it("the same write again (same idempotency key, same body), by request or on the link, runs once", async () => {
    const { core, ran, wrote, writeFrame, headers } = await leaderWithAlice();
    await writeFrame(2, "hello");
    const again = await core.request(new Request("http://leader/", { method: "POST", body: "hello", headers: headers("alice-key", "hello") }));
    assert.equal(again?.status, 200);
    await writeFrame(3, "hello");
    assert.deepEqual(wrote().map((answer) => [answer.seq, answer.status]), [[2, 200], [3, 200]]);
    assert.deepEqual(ran.map(([, text]) => text), ["hello"]);
  });

  it("a write then its writer's close in one link message: onMessage runs before onClose, as the shard sent them", async () => {
    const { core, link, handlers, wrote, headers } = await leaderWithAlice();
    await core.onLinkFrame(link, pack({ t: "frames", frames: [
      { t: "write", seq: 2, id: "alice", headers: headers("alice-key", "hi"), data: { bytes: new TextEncoder().encode("hi") } },
      { t: "close", seq: 3, id: "alice", code: 1000, reason: "bye" },
    ] }));
    await waitFor("the leader's wrote", () => wrote().length === 1, () => "", 2_000);
    await settle();
    assert.deepEqual(handlers, ["onMessage alice hi (readyState 1)", "onClose alice"]);
    assert.deepEqual(wrote().map((answer) => answer.status), [200]);
  });

  it("a write still running when its shard starts afresh (a new incarnation, numbering its frames from 1 again) is not answered to it", async () => {
    const { core, link, ran, wrote, headers, slow } = await leaderWithAlice();
    let finish!: () => void;
    slow(new Promise<void>((resolve) => (finish = resolve)));
    await core.onLinkFrame(link, pack({ t: "write", seq: 2, id: "alice", headers: headers("alice-key", "hello"), data: { bytes: new TextEncoder().encode("hello") } }));
    await waitFor("onMessage called", () => ran.length === 1, () => "", 2_000);
    const kept = { state: null, attachment: null, tags: [] };
    await core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s2", n: 1, acked: 0, clients: [{ id: "alice", uri: "http://h/parties/main/lobby", key: "alice-key", kept }] } satisfies ShardFrame));
    finish();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await settle();
    assert.deepEqual(wrote(), [], "its seq 2 is another write of the new incarnation's");
  });
});

import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { WRITES_TYPE, type ForwardedWrite } from "../src/runtime/forwarded-writes.js";
import { fromBase64, toBase64 } from "../src/runtime/protocol.js";
import type { LeaderHost, LinkEnd } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { ShardWrites } from "../src/runtime/shard-writes.js";

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A POST of a routed write, as the router sends it to the writer's shard. */
const writeTo = (id: string, text: string, extra: Record<string, string> = {}) =>
  new Request("http://shard/", { method: "POST", body: text, headers: { "x-party-shard-connection": id, "x-party-shard-key": `${id}-key`, "x-party-shard-attempt": "1", "idempotency-key": `${id}:${text}`, "x-cf-ray": "not forwarded", ...extra } });

describe("a shard takes its writers' writes to the leader together (shard-writes.ts)", () => {
  it("writes that arrive within 10 ms go as one request; each gets its own answer; only the write's own headers go", async () => {
    const requests: ForwardedWrite[][] = [];
    const writes = new ShardWrites(() => async (_path, init) => {
      const { writes: sent } = JSON.parse(init.body as string) as { writes: ForwardedWrite[] };
      requests.push(sent);
      assert.equal(new Headers(init.headers).get("content-type"), WRITES_TYPE);
      return Response.json({ answers: sent.map((write, i) => ({ status: i === 1 ? 410 : 200, headers: [["x-party-shard-batch", "1"]], body: toBase64(new TextEncoder().encode(`${new TextDecoder().decode(fromBase64(write.body))} done`)) })) });
    });
    const answers = await Promise.all(["alice", "bob", "carol"].map((id) => writes.answer(writeTo(id, `from ${id}`), async () => true)));
    assert.equal(requests.length, 1, "one request to the leader");
    assert.deepEqual(requests[0]!.map((write) => Object.fromEntries(write.headers)["x-party-shard-connection"]), ["alice", "bob", "carol"]);
    assert.ok(requests[0]!.every((write) => !write.headers.some(([name]) => name === "x-cf-ray")));
    assert.deepEqual(await Promise.all(answers.map(async (res) => [res.status, await res.text(), res.headers.get("x-party-shard-batch")])), [
      [200, "from alice done", "1"],
      [410, "from bob done", "1"],
      [200, "from carol done", "1"],
    ]);
  });

  it("while a request is on its way, later writes wait for its answer (50 ms at most) and go together", async () => {
    const sent: number[] = [];
    let release!: () => void;
    const first = new Promise<void>((resolve) => (release = resolve));
    const writes = new ShardWrites(() => async (_path, init) => {
      const { writes: batch } = JSON.parse(init.body as string) as { writes: ForwardedWrite[] };
      sent.push(batch.length);
      if (sent.length === 1) await first;
      return Response.json({ answers: batch.map(() => ({ status: 200, headers: [], body: null })) });
    });
    // On a virtual clock: a loaded machine must not turn 25 ms into HOLD_MAX_MS's 50.
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const a = writes.answer(writeTo("alice", "1"), async () => true);
      await settle();
      mock.timers.tick(10); // MERGE_MS
      await settle();
      assert.deepEqual(sent, [1], "the first went alone");
      const later = ["bob", "carol"].map((id) => writes.answer(writeTo(id, "2"), async () => true));
      await settle();
      mock.timers.tick(10); // their MERGE_MS: the first is on its way, so they wait for it
      await settle();
      mock.timers.tick(25); // 35 ms after them, under HOLD_MAX_MS
      await settle();
      assert.deepEqual(sent, [1], "held while the first is on its way");
      release();
      await Promise.all([a, ...later]);
      assert.deepEqual(sent, [1, 2], "then together, at its answer");
    } finally {
      mock.timers.reset();
    }
  });

  it("a slow answer holds the writes after it 50 ms at most", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const sent: string[] = [];
      // The leader answers dan's request after 500 ms, any other at once.
      const slow = new ShardWrites(() => (_path, init) => {
        const { writes: batch } = JSON.parse(init.body as string) as { writes: ForwardedWrite[] };
        const who = batch.map((write) => Object.fromEntries(write.headers)["x-party-shard-connection"]).join(",");
        sent.push(who);
        return new Promise((resolve) => setTimeout(() => resolve(Response.json({ answers: batch.map(() => ({ status: 200, headers: [], body: null })) })), who === "dan" ? 500 : 0));
      });
      void slow.answer(writeTo("dan", "1"), async () => true);
      await settle();
      mock.timers.tick(10); // MERGE_MS: dan's request goes
      await settle();
      let answered = false;
      const erin = slow.answer(writeTo("erin", "2"), async () => true).then(() => (answered = true));
      await settle();
      mock.timers.tick(10); // her MERGE_MS: dan's request is on its way, so she waits for it
      await settle();
      assert.deepEqual([sent, answered], [["dan"], false]);
      mock.timers.tick(40); // 50 ms after her: she goes alone, 450 ms before dan's answer
      await settle();
      mock.timers.tick(0);
      await settle();
      assert.deepEqual([sent, answered], [["dan", "erin"], true], "answered long before dan's answer");
      await erin;
    } finally {
      mock.timers.reset();
    }
  });

  it("a writer not here under its key: 404 with holder none, nothing sent; a check (GET) is 204 or 404", async () => {
    let sent = 0;
    const writes = new ShardWrites(() => async () => (sent++, Response.json({ answers: [] })));
    const refused = await writes.answer(writeTo("mallory", "hi"), async () => false);
    assert.deepEqual([refused.status, refused.headers.get("x-party-shard-holder")], [404, "none"]);
    assert.equal((await writes.answer(new Request("http://shard/"), async () => true)).status, 204);
    assert.equal((await writes.answer(new Request("http://shard/"), async () => false)).status, 404);
    await settle();
    assert.equal(sent, 0);
  });

  it("a leader that fails or never answers: each write 503, for the router to send again", async () => {
    const logged = mock.method(console, "error", () => undefined);
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const failing = new ShardWrites(() => async () => new Response("boom", { status: 500 }));
      const first = failing.answer(writeTo("alice", "a"), async () => true);
      await settle();
      mock.timers.tick(10);
      assert.equal((await first).status, 503);
      const silent = new ShardWrites(() => () => new Promise<Response>(() => {}));
      const second = silent.answer(writeTo("bob", "b"), async () => true);
      await settle();
      mock.timers.tick(10);
      await settle();
      mock.timers.tick(9_000);
      assert.equal((await second).status, 503);
    } finally {
      mock.timers.reset();
      logged.mock.restore();
    }
  });
});

describe("the leader runs forwarded writes each as if it came alone", () => {
  async function leader(stuck?: string) {
    const link: LinkEnd = { id: "party-shard-link-1-x", readyState: 1, send() {}, close() {} };
    const host: LeaderHost = { id: "lobby", env: {}, hibernates: false, directConnections: () => [], directConnection: () => undefined, links: () => [link], link: () => link, routerRoom: () => async () => new Response("{}") };
    const ran: string[] = [];
    // A message `stuck` runs an onMessage that never settles.
    const core = new LeaderCore(host, { message: (conn, message) => (ran.push(`${conn.id}: ${String(message)}`), String(message) === stuck ? new Promise(() => {}) : undefined) });
    await core.start();
    await core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "a", acked: 0, clients: [] }));
    for (const [seq, id] of [[1, "alice"], [2, "bob"]] as const) await core.onLinkFrame(link, JSON.stringify({ t: "open", seq, id, uri: "http://host/parties/main/lobby", key: `${id}-key`, headers: [] }));
    await settle();
    return { core, ran };
  }
  const forwarded = (writes: unknown) => new Request("http://leader/", { method: "POST", headers: { "content-type": WRITES_TYPE }, body: JSON.stringify({ writes }) });
  const one = (id: string, text: string, key = `${id}-key`): ForwardedWrite => ({
    headers: [["content-type", "text/plain"], ["x-party-shard-connection", id], ["x-party-shard-key", key], ["x-party-shard-attempt", "1"], ["idempotency-key", `${id}:${text}`]],
    body: toBase64(new TextEncoder().encode(text)),
  });

  it("two writers' writes in one request: both run once, as their connections; a wrong key gets 425 as alone; one leader event", async () => {
    const { core, ran } = await leader();
    const before = core.counts.events;
    const res = await core.request(forwarded([one("alice", "hello"), one("bob", "hi"), one("bob", "forged", "wrong-key"), one("alice", "hello")]));
    assert.equal(core.counts.events - before, 1);
    const { answers } = (await res!.json()) as { answers: { status: number; body: string | null }[] };
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200, 425, 200]);
    assert.deepEqual(ran.sort(), ["alice: hello", "bob: hi"], "the same Idempotency-Key ran once");
  });

  it("one onMessage that never settles holds the others' answers 2 s at most: each is answered with its own status", async () => {
    const { core, ran } = await leader("forever");
    const started = Date.now();
    const res = await core.request(forwarded([one("alice", "forever"), one("bob", "hi")]));
    const { answers } = (await res!.json()) as { answers: { status: number }[] };
    assert.deepEqual(answers.map((answer) => answer.status), [200, 200]);
    assert.ok(Date.now() - started < 3_000, `answered after ${Date.now() - started} ms`);
    assert.deepEqual(ran.sort(), ["alice: forever", "bob: hi"]);
  });

  for (const [what, body] of [
    ["not JSON", "{"],
    ["no writes", JSON.stringify({ writes: [] })],
    ["65 writes", JSON.stringify({ writes: Array.from({ length: 65 }, () => ({ headers: [], body: "" })) })],
    ["a header that is not a pair", JSON.stringify({ writes: [{ headers: [["a"]], body: "" }] })],
    ["too many headers", JSON.stringify({ writes: [{ headers: Array.from({ length: 7 }, () => ["a", "b"]), body: "" }] })],
    ["over 3 MiB", JSON.stringify({ writes: [{ headers: [], body: "A".repeat(3_200_000) }] })],
  ] as const) {
    it(`refuses forwarded writes that are ${what}: 400, nothing run`, async () => {
      const { core, ran } = await leader();
      const res = await core.request(new Request("http://leader/", { method: "POST", headers: { "content-type": WRITES_TYPE }, body }));
      assert.equal(res!.status, 400);
      assert.deepEqual(ran, []);
    });
  }
});

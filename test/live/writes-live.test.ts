import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { PartySocket } from "partysocket";
import WebSocket from "ws";
import { startPartykitDev, type PartykitDev } from "../../src/infra/partykit-dev.js";
import { PARTYKIT_BIN, copyDemoApp, runCli } from "../helpers/cli.js";
import { rawRequest, writeChunked } from "../helpers/raw-http.js";

const SHARDS = 4;
const LISTENERS = 8;
const WRITES = 300;

type Helper = {
  sendViaRouter(socket: unknown, payload: string | ArrayBuffer | ArrayBufferView | Blob): Promise<void>;
  shardKey(): Record<string, string>;
};

/** A stand-in socket: only what sendViaRouter reads. */
function fakeSocket(url: string, id: string) {
  const sent: unknown[] = [];
  return { url, id, sent, send: (payload: unknown) => sent.push(payload), addEventListener() {}, removeEventListener() {} };
}

/** console.error muted while `run` runs: failing writes each log one, on purpose here. */
async function quietly<T>(run: () => Promise<T>): Promise<T> {
  const original = console.error;
  console.error = () => {};
  try {
    return await run();
  } finally {
    console.error = original;
  }
}

// The demo chat (onMessage broadcasts to everyone but the sender) after init + migrate, with
// the runtime failing 20% of first attempts between its pieces, before or after the party ran.
describe("sendViaRouter on partykit dev, 20% of first attempts failing", () => {
  let server: PartykitDev | undefined;
  let project = "";
  let helper: Helper;

  before(async () => {
    project = copyDemoApp();
    for (const args of [["init", "--yes", "--shards", String(SHARDS)], ["migrate", "--yes"]]) {
      const result = await runCli(args, project);
      assert.equal(result.exitCode, 0, result.stderr);
    }
    server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN, vars: { PARTY_SHARD_FAULT_PERCENT: "20" } });
    helper = (await import(path.join(project, "app", "party-shard-client.ts"))) as Helper;
  });
  after(async () => {
    await server?.stop();
    rmSync(project, { recursive: true, force: true });
  });

  const join = (room: string, options: Record<string, unknown> = {}) => {
    const inbox: string[] = [];
    const socket = new PartySocket({ host: server!.host, room, party: "router", WebSocket: WebSocket as never, ...options });
    const welcomed = new Promise<void>((resolve) =>
      socket.addEventListener("message", (event) => {
        const data = JSON.parse(String(event.data)) as { type: string; text?: string };
        if (data.type === "welcome") resolve();
        if (data.type === "say") inbox.push(data.text!);
      }),
    );
    return { socket, inbox, welcomed };
  };

  it(`${WRITES} writes in a tight loop: each promise resolves, every listener gets each once, in order, and broadcasts of a batch go one frame a shard`, async () => {
    const room = "batched";
    const listeners = Array.from({ length: LISTENERS }, () => join(room));
    const writer = join(room, { query: helper.shardKey() });
    try {
      await Promise.all([...listeners, writer].map((client) => client.welcomed));
      const sent = Array.from({ length: WRITES }, (_, i) => helper.sendViaRouter(writer.socket, String(i)));
      const settled = await Promise.allSettled(sent);
      assert.deepEqual(
        settled.filter((outcome) => outcome.status === "rejected"),
        [],
      );
      await until(async () => listeners.every(({ inbox }) => inbox.length >= WRITES), 20_000);
      await new Promise((resolve) => setTimeout(resolve, 500)); // late duplicates would land here
      const expected = Array.from({ length: WRITES }, (_, i) => String(i));
      listeners.forEach(({ inbox }, i) => assert.deepEqual(inbox, expected, `listener ${i}`));

      // Batches really went (the runtime logs each fault it injects into one), and were retried away.
      assert.match(server!.output(), /party-shard: injected fault (before|after) a batched write/);
      const view = (await (await fetch(`http://${server!.host}/parties/router/${room}`)).json()) as { leader: { broadcasts: number; shardFrames: number } };
      assert.equal(view.leader.broadcasts, WRITES);
      // One broadcast a write would be one frame per shard each: WRITES × SHARDS.
      assert.ok(view.leader.shardFrames < (WRITES * SHARDS) / 4, `${view.leader.shardFrames} frames to shards for ${WRITES} broadcasts`);
    } finally {
      for (const { socket } of [...listeners, writer]) socket.close();
    }
  });

  it(`${WRITES} socket.send on a routed socket (--writes socket): each once, in order, and their broadcasts go a few frames a shard`, async () => {
    const room = "relayed";
    const listeners = Array.from({ length: LISTENERS }, () => join(room));
    const writer = join(room, { query: helper.shardKey() });
    try {
      await Promise.all([...listeners, writer].map((client) => client.welcomed));
      for (let i = 0; i < WRITES; i++) writer.socket.send(String(i));
      await until(async () => listeners.every(({ inbox }) => inbox.length >= WRITES), 20_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const expected = Array.from({ length: WRITES }, (_, i) => String(i));
      listeners.forEach(({ inbox }, i) => assert.deepEqual(inbox, expected, `listener ${i}`));
      const view = (await (await fetch(`http://${server!.host}/parties/router/${room}`)).json()) as { leader: { broadcasts: number; shardFrames: number } };
      assert.equal(view.leader.broadcasts, WRITES);
      assert.ok(view.leader.shardFrames < (WRITES * SHARDS) / 4, `${view.leader.shardFrames} frames to shards for ${WRITES} broadcasts`);
    } finally {
      for (const { socket } of [...listeners, writer]) socket.close();
    }
  });

  it("text, ArrayBuffer, typed array and Blob in one batch arrive as sent, in order", async () => {
    const room = "binary";
    const listener = join(room);
    const writer = join(room, { query: helper.shardKey() });
    try {
      await Promise.all([listener.welcomed, writer.welcomed]);
      const bytes = new Uint8Array([1, 2, 3, 4, 5]);
      await Promise.all([
        helper.sendViaRouter(writer.socket, "text"),
        helper.sendViaRouter(writer.socket, bytes.buffer.slice(0, 3)),
        helper.sendViaRouter(writer.socket, bytes.subarray(1, 5)),
        helper.sendViaRouter(writer.socket, new Blob([new Uint8Array(7)])),
        helper.sendViaRouter(writer.socket, "ünïcödé ✓"),
      ]);
      await until(async () => listener.inbox.length >= 5, 5_000);
      // The demo party says "<n bytes>" for a binary message.
      assert.deepEqual(listener.inbox, ["text", "<3 bytes>", "<4 bytes>", "<7 bytes>", "ünïcödé ✓"]);
    } finally {
      listener.socket.close();
      writer.socket.close();
    }
  });

  it("a write the room refuses (wrong key) rejects its promise, alone and in a batch", async () => {
    const room = "refused";
    const writer = join(room, { query: helper.shardKey() });
    try {
      await writer.welcomed;
      const impostor = fakeSocket(`ws://${server!.host}/parties/router/${room}?_pk=${writer.socket.id}&_psk=${"0".repeat(32)}`, writer.socket.id);
      await quietly(async () => {
        await assert.rejects(helper.sendViaRouter(impostor, "alone"), /router answered 403/);
        const batch = ["a", "b", "c"].map((text) => helper.sendViaRouter(impostor, text));
        for (const outcome of await Promise.allSettled(batch)) {
          assert.equal(outcome.status, "rejected");
          assert.match(String((outcome as PromiseRejectedResult).reason), /403/);
        }
      });
      assert.deepEqual(impostor.sent, [], "a refused write fell back to the socket");
    } finally {
      writer.socket.close();
    }
  });

  it("a batch is bounded and checked before anything runs: count, bytes, shape, key length", async () => {
    const room = "bounds";
    const listener = join(room);
    const writer = join(room, { query: helper.shardKey() });
    try {
      await Promise.all([listener.welcomed, writer.welcomed]);
      const key = new URL(writer.socket.url!).searchParams.get("_psk")!;
      const post = (body: string) =>
        fetch(`http://${server!.host}/parties/router/${room}`, {
          method: "POST",
          headers: { "content-type": "application/vnd.party-shard.batch+json", "x-party-shard-connection": encodeURIComponent(writer.socket.id), "x-party-shard-key": key },
          body,
        });
      const entries = (n: number, text = "x") => JSON.stringify(Array.from({ length: n }, (_, i) => ({ k: `key-${i}`, t: text })));
      const cases: [string, string, number, RegExp][] = [
        ["513 writes", entries(513), 400, /at most 512 writes/],
        ["not JSON", "[{", 400, /JSON array/],
        ["empty", "[]", 400, /non-empty/],
        ["no payload", JSON.stringify([{ k: "a" }]), 400, /not \{ k, t \} or \{ k, b \}/],
        ["text and base64", JSON.stringify([{ k: "a", t: "x", b: "eA==" }]), 400, /not \{ k, t \}/],
        ["bad base64", JSON.stringify([{ k: "a", b: "eA=" }]), 400, /not \{ k, t \}/],
        ["a 129-character key", JSON.stringify([{ k: "k".repeat(129), t: "x" }]), 400, /at most 128 characters/],
      ];
      for (const [what, body, status, error] of cases) {
        const response = await post(body);
        const text = await response.text();
        assert.equal(response.status, status, `${what}: ${text}`);
        assert.match(text, error, what);
      }
      // Over 1 MiB: the router answers while the body is still coming, which fetch reports as a
      // failure of its own; a raw request reads the answer.
      const head = [
        `POST /parties/router/${room} HTTP/1.1`,
        `Host: ${server!.host}`,
        "Content-Type: application/vnd.party-shard.batch+json",
        `x-party-shard-connection: ${encodeURIComponent(writer.socket.id)}`,
        `x-party-shard-key: ${key}`,
        "Transfer-Encoding: chunked",
        "Connection: close",
      ];
      const big = await rawRequest(server!.host, head.join("\r\n"), (socket) => writeChunked(socket, 1_048_577));
      assert.equal(big.status, 413, `${big.head}\n${big.body}`);
      assert.match(big.body, /larger than 1048576 bytes/);
      // The same connection's valid batch still runs, in order.
      const ok = await post(JSON.stringify([{ k: "good-1", t: "one" }, { k: "good-2", b: Buffer.from("two").toString("base64") }]));
      assert.equal(ok.status, 200);
      assert.deepEqual(((await ok.json()) as { results: { status: number }[] }).results.map((r) => r.status), [200, 200]);
      await until(async () => listener.inbox.length >= 2, 5_000);
      assert.deepEqual(listener.inbox, ["one", "<3 bytes>"]);
    } finally {
      listener.socket.close();
      writer.socket.close();
    }
  });

  it("a socket on another party sends on itself, at once", async () => {
    const room = "direct";
    const listener = new PartySocket({ host: server!.host, room, WebSocket: WebSocket as never });
    const writer = new PartySocket({ host: server!.host, room, WebSocket: WebSocket as never });
    const heard: string[] = [];
    listener.addEventListener("message", (event) => heard.push(String(event.data)));
    try {
      await Promise.all([listener, writer].map((socket) => new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }))));
      const sends: unknown[] = [];
      const send = writer.send.bind(writer);
      writer.send = (payload) => (sends.push(payload), send(payload));
      const outcome = helper.sendViaRouter(writer, "plain");
      assert.deepEqual(sends, ["plain"], "socket.send was not called at once");
      await outcome;
      await until(async () => heard.some((text) => text.includes('"plain"')), 5_000);
      assert.ok(heard.some((text) => text.includes('"say"') && text.includes('"plain"')), `the listener heard ${JSON.stringify(heard)}`);
    } finally {
      listener.close();
      writer.close();
    }
  });
});

describe("sendViaRouter's own limits, without a server", () => {
  it("a full queue refuses the next write at once with a clear error; a socket that never connects fails what waited", async () => {
    const { helper, cleanup } = await generatedHelper();
    try {
      // No URL yet: the writes wait for the socket to connect, which it never does.
      const never = { ...fakeSocket("", "never"), roomUrl: "" };
      await quietly(async () => {
        const waiting = Array.from({ length: 10_000 }, (_, i) => helper.sendViaRouter(never, String(i)));
        const started = Date.now();
        await assert.rejects(helper.sendViaRouter(never, "one too many"), /already has 10000 writes .* waiting, the most it may/);
        assert.ok(Date.now() - started < 100, "the overflow was not refused at once");
        const outcomes = await Promise.allSettled(waiting);
        assert.ok(outcomes.every((outcome) => outcome.status === "rejected" && /did not connect within/.test(String(outcome.reason))));
      });
    } finally {
      cleanup();
    }
  });

  it("a request that never answers fails its writes after the write timeout, and later writes go on", async () => {
    const { helper, cleanup } = await generatedHelper();
    // Accepts connections, reads what comes, and never answers.
    let received = "";
    const silent = net.createServer((connection) => connection.on("data", (chunk) => (received += chunk.toString())));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const socket = fakeSocket(`ws://127.0.0.1:${port}/parties/router/room?_pk=me&_psk=${"1".repeat(32)}`, "me");
      await quietly(async () => {
        const started = Date.now();
        const first = helper.sendViaRouter(socket, "first");
        await new Promise((resolve) => setTimeout(resolve, 200));
        // Sent while the first is on its way: it waits, and goes once the first has failed.
        const second = helper.sendViaRouter(socket, "second-write");
        second.catch(() => {});
        await assert.rejects(first, /not taken within 15000 ms/);
        const took = Date.now() - started;
        assert.ok(took >= 14_900 && took < 17_000, `failed after ${took} ms`);
        assert.ok(!received.includes("second-write"), "the second write did not wait for the first");
        await until(async () => received.includes("second-write"), 2_000);
        assert.ok(received.includes("second-write"), "the second write did not go after the first failed");
      });
    } finally {
      silent.closeAllConnections?.();
      silent.close();
      cleanup();
    }
  });
});

/** The client helper as migrate generates it, in a project of its own. */
async function generatedHelper(): Promise<{ helper: Helper; cleanup: () => void }> {
  const project = copyDemoApp();
  const result = await runCli(["init", "--yes", "--shards", "2"], project);
  assert.equal(result.exitCode, 0, result.stderr);
  const migrated = await runCli(["migrate", "--yes"], project);
  assert.equal(migrated.exitCode, 0, migrated.stderr);
  const helper = (await import(path.join(project, "app", "party-shard-client.ts"))) as Helper;
  return { helper, cleanup: () => rmSync(project, { recursive: true, force: true }) };
}

async function until(done: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

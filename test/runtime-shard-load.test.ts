import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import type { Conn, LinkSocket, ShardHost } from "../src/runtime/host.js";
import { unpack } from "../src/runtime/link-frames.js";
import type { LoadReport } from "../src/runtime/protocol.js";
import { ShardRelay } from "../src/runtime/shard.js";
import { REPORT_GAP_MS } from "../src/runtime/shard-load.js";
import { memoryStorage } from "./helpers/memory-storage.js";

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A shard whose load reports wait until `answer()`; `reports` is every report sent, `inFlight` the most at once. */
function shard() {
  const storage = memoryStorage();
  // As the leader: every link message acknowledged (a client's onConnect waits for it).
  let onFrame: ((event: MessageEvent) => void) | undefined;
  const link: LinkSocket = {
    readyState: 1,
    send: (wire) => {
      const frame = unpack<{ seq?: number; frames?: { seq: number }[] }>(wire);
      const last = frame.frames?.at(-1)?.seq ?? frame.seq;
      if (last !== undefined) queueMicrotask(() => onFrame?.(new MessageEvent("message", { data: JSON.stringify({ t: "ack", seq: last }) })));
    },
    close: () => undefined,
    addEventListener: (type: string, listener: (event: MessageEvent) => void) => void (type === "message" && (onFrame = listener)),
  };
  const sockets: (Conn & { readyState: number })[] = [];
  const reports: LoadReport[] = [];
  const waiting: (() => void)[] = [];
  const seen = { inFlight: 0, most: 0 };
  const host: ShardHost = {
    party: "main",
    storage,
    connections: () => sockets.filter((conn) => conn.readyState === 1),
    openLink: async () => link,
    routerRoom: () => async (_path, init) => {
      reports.push(JSON.parse(decodeURIComponent(new Headers(init.headers).get("x-party-shard-load")!)) as LoadReport);
      seen.most = Math.max(seen.most, ++seen.inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      seen.inFlight -= 1;
      return new Response(null, { status: 204 });
    },
  };
  const relay = new ShardRelay(host, "lobby", 3);
  const connect = (id: string) => {
    const conn = { id, uri: null, readyState: 1, state: null as unknown, setState: (next: unknown) => (conn.state = next), send() {}, close() {} };
    sockets.push(conn);
    return relay.onConnect(conn, { request: new Request(`http://host/parties/router/lobby?_pk=${id}`) });
  };
  /** Answers the reports in flight; the next may go REPORT_GAP_MS later (timers are mocked). */
  const answer = async () => {
    waiting.splice(0).forEach((resolve) => resolve());
    await settle();
    mock.timers.tick(REPORT_GAP_MS);
    await settle();
  };
  return { relay, sockets, reports, seen, connect, answer, answerOnly: () => waiting.splice(0).forEach((resolve) => resolve()) };
}

describe("a shard's load reports", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
  afterEach(() => mock.timers.reset());

  it("100 connects at once: one report in flight at a time, a few in all, the last with the final count", async () => {
    const s = shard();
    await Promise.all(Array.from({ length: 100 }, (_, i) => s.connect(`client-${i}`)));
    await settle();
    for (let i = 0; i < 5; i++) await s.answer();
    assert.equal(s.seen.most, 1);
    assert.ok(s.reports.length <= 3, `${s.reports.length} reports`);
    assert.equal(s.reports.at(-1)!.count, 100);
    assert.deepEqual(s.reports.map((report) => report.n), s.reports.map((_, i) => i + 1));
    assert.ok(s.reports.every((report) => report.shard === 3 && report.startedAt === s.reports[0]!.startedAt));
  });

  it("a change while a report is on its way sends one more once it is answered; no change, nothing more", async () => {
    const s = shard();
    await s.connect("a");
    await settle();
    assert.deepEqual(s.reports.map((report) => report.count), [1]);
    await s.connect("b");
    await s.connect("c");
    s.sockets[2]!.readyState = 3;
    await s.relay.onClose(s.sockets[2]!, 1000, "");
    assert.equal(s.reports.length, 1, "nothing more while one is on its way");
    await s.answer();
    assert.deepEqual(s.reports.map((report) => report.count), [1, 2]);
    await s.answer();
    assert.equal(s.reports.length, 2);
  });

  it("the next report waits REPORT_GAP_MS after the answer: a crowd's connects cost a few counts of the shard's sockets", async () => {
    const s = shard();
    await s.connect("a");
    await settle();
    await s.connect("b");
    s.answerOnly();
    await settle();
    mock.timers.tick(REPORT_GAP_MS - 1);
    await settle();
    assert.deepEqual(s.reports.map((report) => report.count), [1]);
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(s.reports.map((report) => report.count), [1, 2]);
  });

  it("a report that fails is logged; the next change reports the count", async () => {
    const errors = mock.method(console, "error", () => undefined);
    try {
      const reports: number[] = [];
      let fail = true;
      const sockets: Conn[] = [];
      const host = {
        party: "main",
        storage: { get: async () => undefined, put: async () => undefined, delete: async () => undefined, list: async () => new Map() },
        connections: () => sockets,
        openLink: async () => ({ readyState: 1, send() {}, close() {}, addEventListener() {} }),
        routerRoom: () => async (_path: string, init: { headers?: HeadersInit }) => {
          reports.push((JSON.parse(decodeURIComponent(new Headers(init.headers).get("x-party-shard-load")!)) as LoadReport).count);
          if (fail) throw new Error("the router's room is away");
          return new Response(null, { status: 204 });
        },
      } as ShardHost;
      const relay = new ShardRelay(host, "lobby", 1);
      const conn = (id: string) => ({ id, uri: null, readyState: 1, state: null, setState() {}, send() {}, close() {} }) as Conn;
      sockets.push(conn("a"));
      void relay.onConnect(sockets[0]!, { request: new Request("http://host/?_pk=a") });
      await settle();
      fail = false;
      sockets.push(conn("b"));
      void relay.onConnect(sockets[1]!, { request: new Request("http://host/?_pk=b") });
      await settle();
      assert.deepEqual(reports, [1, 2]);
      assert.equal(errors.mock.callCount(), 1);
      // Their onConnects stop waiting for the leader, which never answers here.
      for (const socket of sockets.splice(0)) await relay.onClose(socket, 1000, "bye");
    } finally {
      errors.mock.restore();
    }
  });

  it("the shard answers the router's room its count and when its incarnation started", async () => {
    const before = Date.now();
    const s = shard();
    await s.connect("a");
    const answer = (await (await s.relay.onRequest(new Request("http://router/"))).json()) as { connections: number; startedAt: number };
    assert.equal(answer.connections, 1);
    assert.ok(answer.startedAt >= before && answer.startedAt <= Date.now());
  });
});

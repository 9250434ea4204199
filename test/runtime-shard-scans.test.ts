/**
 * A shard's work per frame does not grow with its clients: counting them reads every socket's
 * state, so a shard that counted on each leader frame or acknowledgement made a crowd connecting
 * at once cost O(clients²) (on partykit dev, half the CPU of the sharded greeting).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Conn, LinkSocket, ShardHost } from "../src/runtime/host.js";
import { unpack } from "../src/runtime/link-frames.js";
import { ShardRelay } from "../src/runtime/shard.js";
import { memoryStorage } from "./helpers/memory-storage.js";

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("a shard's work per frame", () => {
  it("200 leader frames and acknowledgements to a shard of 50 clients list its sockets a few times, not once a frame", async () => {
    let onFrame: ((event: MessageEvent) => void) | undefined;
    const fromLeader = (frame: object) => onFrame?.(new MessageEvent("message", { data: JSON.stringify(frame) }));
    const link: LinkSocket = {
      readyState: 1,
      // As the leader: every link message acknowledged.
      send: (wire) => {
        const frame = unpack<{ t: string; seq?: number; frames?: { seq: number }[] }>(wire);
        const last = frame.frames?.at(-1)?.seq ?? frame.seq;
        if (frame.t !== "hello" && last !== undefined) queueMicrotask(() => fromLeader({ t: "ack", seq: last }));
      },
      close: () => undefined,
      addEventListener: (type: string, listener: (event: MessageEvent) => void) => void (type === "message" && (onFrame = listener)),
    };
    const sockets: (Conn & { readyState: number; got: number })[] = [];
    const scans = { all: 0 };
    const host: ShardHost = {
      party: "main",
      storage: memoryStorage(),
      connections: (tag?: string) => {
        if (tag === undefined) scans.all++;
        return sockets.filter((conn) => conn.readyState === 1 && (tag === undefined || conn.id === tag));
      },
      openLink: async () => link,
      routerRoom: () => async () => new Response(null, { status: 204 }),
    };
    const relay = new ShardRelay(host, "lobby", 1);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const conn = { id: `c${i}`, uri: null, readyState: 1, got: 0, state: null as unknown, setState: (next: unknown) => (conn.state = next), send: () => void conn.got++, close() {} };
        sockets.push(conn);
        return relay.onConnect(conn, { request: new Request(`http://host/parties/router/lobby?_pk=c${i}`) });
      }),
    );
    fromLeader({ t: "welcome", leader: "leader-1", hibernates: true });
    await settle();
    scans.all = 0;
    for (let n = 1; n <= 200; n++) {
      fromLeader({ t: "send", to: `c${n % 50}`, data: { text: `hello ${n}` }, n });
      fromLeader({ t: "ack", seq: 50 });
    }
    await settle();
    assert.equal(sockets.reduce((sum, conn) => sum + conn.got, 0), 200, "every frame reached its client");
    assert.ok(scans.all <= 2, `the shard listed all its sockets ${scans.all} times`);
    for (const conn of sockets) await relay.onClose(conn, 1000, "bye");
  });
});

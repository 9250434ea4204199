import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { routerClient, type RoutableSocket } from "../src/runtime/client.js";

/** A connected socket on the "router" party with its own write key, as partysocket exposes it. */
function socket(i: number): RoutableSocket {
  const url = `ws://example.test/parties/router/lobby?_psk=${"k".repeat(28)}${String(i).padStart(4, "0")}`;
  return { url, roomUrl: "ws://example.test/parties/router/lobby", id: `client-${i}`, send() {}, addEventListener() {}, removeEventListener() {} };
}

describe("the client's writes", () => {
  it("number each key's writes 1, 2, …, and remember the numbers of the 1,000 keys written with last only", async () => {
    const seqs = new Map<string, string[]>();
    const fetch = mock.method(globalThis, "fetch", async (_url: string, init: { headers: Record<string, string> }) => {
      const key = init.headers["x-party-shard-key"]!;
      seqs.set(key, [...(seqs.get(key) ?? []), init.headers["x-party-shard-seq"]!]);
      return new Response(null, { status: 200 });
    });
    try {
      const { sendViaRouter } = routerClient("router");
      const sockets = Array.from({ length: 1_001 }, (_, i) => socket(i));
      await sendViaRouter(sockets[0], "a");
      await sendViaRouter(sockets[0], "b");
      for (const each of sockets.slice(1)) await sendViaRouter(each, "c");
      // Key 0 was written with least recently: forgotten, its numbers start again; key 1,000 goes on.
      await sendViaRouter(sockets[0], "d");
      await sendViaRouter(sockets[1_000], "e");
      const key = (i: number) => new URL(sockets[i]!.url).searchParams.get("_psk")!;
      assert.deepEqual(seqs.get(key(0)), ["1", "2", "1"]);
      assert.deepEqual(seqs.get(key(1_000)), ["1", "2"]);
      assert.equal(fetch.mock.callCount(), 1_004);
    } finally {
      fetch.mock.restore();
    }
  });

  it("tell the router the shard its last answer named, and forget it once an answer names none (the key was refused)", async () => {
    const sent: (string | undefined)[] = [];
    const answers = [
      new Response(null, { status: 200, headers: { "x-party-shard-holder": "2" } }),
      new Response(null, { status: 200, headers: { "x-party-shard-holder": "2" } }),
      new Response("This room does not know that connection (yet)", { status: 425 }),
      new Response(null, { status: 200, headers: { "x-party-shard-holder": "3" } }),
      new Response(null, { status: 200, headers: { "x-party-shard-holder": "3" } }),
    ];
    const fetch = mock.method(globalThis, "fetch", async (_url: string, init: { headers: Record<string, string> }) => {
      sent.push(init.headers["x-party-shard-holder"]);
      return answers.shift()!;
    });
    try {
      const { sendViaRouter } = routerClient("router");
      const writer = socket(5_000);
      await sendViaRouter(writer, "a");
      await sendViaRouter(writer, "b");
      // Its socket moved to shard 3: refused once where it was, then found.
      await sendViaRouter(writer, "c");
      await sendViaRouter(writer, "d");
      assert.deepEqual(sent, [undefined, "2", "2", undefined, "3"]);
    } finally {
      fetch.mock.restore();
    }
  });
});

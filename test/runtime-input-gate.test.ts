/**
 * The platform's input gate, for relayed frames (input-gate.ts): a Durable Object takes no event
 * while a storage call is in flight, so a handler that reads then writes runs to its reply before
 * the next message's handler starts. Frames come many to one link message; the leader gates them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Conn, LinkEnd } from "../src/runtime/host.js";
import { InputGate } from "../src/runtime/input-gate.js";
import { LeaderCore } from "../src/runtime/leader.js";
import type { RelayFrame, ShardFrame } from "../src/runtime/protocol.js";
import { leaderHostWith } from "./helpers/leader-host.js";
import { memoryStorage } from "./helpers/memory-storage.js";

globalThis.CloseEvent ??= class extends Event {} as unknown as typeof CloseEvent;
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("the input gate", () => {
  it("stays open while nothing is in flight; a storage call that returns a promise shuts it until it settles", async () => {
    const gate = new InputGate();
    let finish: (value: number) => void = () => undefined;
    const storage = gate.storage({ get: () => new Promise<number>((resolve) => (finish = resolve)), sync: () => 7, sql: { exec: "not a call" } });
    let opened = false;
    await gate.open();
    assert.equal(storage.sync(), 7, "a call that returns no promise passes");
    assert.deepEqual(storage.sql, { exec: "not a call" }, "a member that is no function passes as it is");
    const read = storage.get();
    void gate.open().then(() => (opened = true));
    await settle();
    assert.equal(opened, false, "shut while the read is in flight");
    finish(3);
    assert.equal(await read, 3);
    await settle();
    assert.equal(opened, true);
  });

  it("a waiter woken as a read settles waits again if that read's handler writes before it resumes (a read-modify-write)", async () => {
    const gate = new InputGate();
    const order: string[] = [];
    const storage = gate.storage({ get: () => Promise.resolve(1), put: () => new Promise<void>((resolve) => setTimeout(resolve, 5)) });
    const handler = (async () => {
      const value = await storage.get();
      order.push("read");
      await storage.put(value + 1);
      order.push("wrote");
    })();
    const next = gate.when(() => order.push("next handler"));
    await Promise.all([handler, next]);
    assert.deepEqual(order, ["read", "wrote", "next handler"]);
  });

  it("a method runs on the storage itself (its `this`), as the platform's own objects need", async () => {
    const gate = new InputGate();
    const target = {
      value: 5,
      async get(this: { value: number }) {
        return this.value;
      },
    };
    assert.equal(await gate.storage(target).get(), 5);
  });
});

describe("frames that come in one link message", () => {
  it("reach the party one at a time while its storage calls are in flight: a read-then-reply answers before the next message's reply", async () => {
    const link: LinkEnd = { id: "party-shard-link-1-a", readyState: 1, send() {}, close() {} };
    const links: LinkEnd[] = [];
    const replies: string[] = [];
    const slowStorage = memoryStorage();
    // A storage read that takes a while, as a real one does.
    const slow = { ...slowStorage, get: async <T>(key: string) => (await new Promise((resolve) => setTimeout(resolve, 5)), slowStorage.get<T>(key)) };
    let storage = slow;
    const core = new LeaderCore(leaderHostWith(links), {
      message: async (_conn: Conn, message) => {
        if (String(message) !== "count") return void replies.push(String(message));
        const count = ((await storage.get<number>("count")) ?? 0) + 1;
        await storage.put("count", count);
        replies.push(`count ${count}`);
      },
    });
    storage = core.gate.storage(slow);
    await core.start();
    links.push(link);
    const kept = { state: null, attachment: null, tags: [] };
    await core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s1", acked: 0, clients: [{ id: "a", uri: "http://h/parties/main/lobby", key: null, kept }] } satisfies ShardFrame));
    const frames: RelayFrame[] = ["count", "num"].map((text, i) => ({ t: "message", seq: i + 1, id: "a", data: { text } }));
    await core.onLinkFrame(link, JSON.stringify({ t: "frames", frames } satisfies ShardFrame));
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(replies, ["count 1", "num"]);
  });

  it("handlers one frame starts together (the onCloses of a restarted shard's clients) start one at a time too: no update is lost", async () => {
    const link: LinkEnd = { id: "party-shard-link-1-a", readyState: 1, send() {}, close() {} };
    const links: LinkEnd[] = [];
    const stored = memoryStorage();
    // A read that answers a while after it is made, with what was stored when it was made.
    const slow = { ...stored, get: <T>(key: string) => stored.get<T>(key).then((value) => new Promise<T | undefined>((resolve) => setTimeout(() => resolve(value), 5))) };
    let storage = slow;
    const core = new LeaderCore(leaderHostWith(links), {
      close: async () => {
        const left = ((await storage.get<number>("left")) ?? 0) + 1;
        await storage.put("left", left);
      },
    });
    storage = core.gate.storage(slow);
    await core.start();
    links.push(link);
    const kept = { state: null, attachment: null, tags: [] };
    const clients = ["a", "b", "c"].map((id) => ({ id, uri: "http://h/parties/main/lobby", key: null, kept }));
    await core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s1", acked: 0, clients } satisfies ShardFrame));
    // The shard restarted with none of them: the leader runs each one's onClose.
    await core.onLinkFrame(link, JSON.stringify({ t: "hello", room: "lobby", incarnation: "s2", acked: 0, clients: [] } satisfies ShardFrame));
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(await stored.get<number>("left"), 3);
  });
});

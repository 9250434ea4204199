import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { startPartykitDev, type PartykitDev } from "../../src/infra/partykit-dev.js";
import { PARTYKIT_BIN, copyDemoApp, runCli } from "../helpers/cli.js";
import { sleep, until } from "../helpers/wait.js";

const CLIENTS = 20;
const MESSAGES_EACH = 10;
const SHARDS = 4;

type Client = { say(text: string): void; leave(): void; socket: { readyState: number; addEventListener(type: string, listener: () => void): void } };
type JoinChat = (options: { host: string; room: string; WebSocket: unknown; onSay: (said: { from: string; text: string }) => void }) => Client;

// PARTY_SHARD_FAULT_PERCENT makes the runtime fail that share of first attempts between its
// pieces (links from shards, writes through the router), before or after the party ran.
for (const failPercent of [0, 20]) {
  describe(`demo chat after init + migrate, on partykit dev, ${failPercent}% of first attempts failing`, () => {
    let server: PartykitDev | undefined;
    let project = "";

    before(async () => {
      project = copyDemoApp();
      for (const args of [["init", "--yes", "--shards", String(SHARDS), "--shard-target", "1"], ["migrate", "--yes"]]) {
        const result = await runCli(args, project);
        assert.equal(result.exitCode, 0, result.stderr);
      }
      server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN, vars: { PARTY_SHARD_FAULT_PERCENT: String(failPercent) } });
    });
    after(() => server?.stop());

    it(`every client's socket.send reaches every other client exactly once, in order, never the sender`, async () => {
      const { joinChat } = (await import(path.join(project, "app", "chat-client.ts"))) as { joinChat: JoinChat };
      const received = Array.from({ length: CLIENTS }, () => [] as string[]);
      const clients = received.map((inbox, i) =>
        joinChat({ host: server!.host, room: `live-${failPercent}`, WebSocket, onSay: ({ text }) => inbox.push(text) }),
      );
      try {
        await Promise.all(clients.map((client) => opened(client)));
        for (let seq = 0; seq < MESSAGES_EACH; seq++) clients.forEach((client, i) => client.say(`${i}:${seq}`));
        const expected = CLIENTS * (CLIENTS - 1) * MESSAGES_EACH;
        await until(() => received.reduce((sum, inbox) => sum + inbox.length, 0) >= expected, 30_000);
        await sleep(300); // late duplicates would land here

        received.forEach((inbox, i) => {
          assert.equal(inbox.length, (CLIENTS - 1) * MESSAGES_EACH, `client ${i} got ${inbox.length}`);
          assert.ok(!inbox.some((text) => text.startsWith(`${i}:`)), `client ${i} got its own message`);
          assert.equal(new Set(inbox).size, inbox.length, `client ${i} got a duplicate`);
          for (let sender = 0; sender < CLIENTS; sender++) {
            if (sender === i) continue;
            const order = inbox.filter((text) => text.startsWith(`${sender}:`)).map((text) => Number(text.split(":")[1]));
            assert.deepEqual(order, [...order].sort((a, b) => a - b), `client ${i} saw sender ${sender} out of order`);
          }
        });
        // The injected failures really happened (the runtime logs each), and were retried away.
        const injected = server!.output().match(/party-shard: injected fault/g)?.length ?? 0;
        if (failPercent === 0) assert.equal(injected, 0);
        else assert.ok(injected > 0, "no shard delivery failed");
      } finally {
        for (const client of clients) client.leave();
      }
    });

    it("the party's own POST route still answers as before", async () => {
      const response = await fetch(`http://${server!.host}/parties/main/some-room/topic`, { method: "POST", body: "sharding" });
      assert.equal(response.status, 201);
      assert.equal(await response.text(), "topic set to sharding");
    });
  });
}

describe("the migrated demo with the oldest supported partysocket (0.0.10), and with a plain send", () => {
  let server: PartykitDev | undefined;
  let project = "";

  before(async () => {
    project = copyDemoApp();
    for (const args of [["init", "--yes", "--shards", String(SHARDS), "--shard-target", "1"], ["migrate", "--yes"]]) {
      const result = await runCli(args, project);
      assert.equal(result.exitCode, 0, result.stderr);
    }
    server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN });
  });
  after(() => server?.stop());

  it("routes text and binary writes from a 0.0.10 socket to clients on every shard", async () => {
    const { default: OldPartySocket } = (await import("partysocket-oldest")) as { default: new (options: object) => OldSocket };
    const { sendViaRouter, shardKey } = (await import(path.join(project, "app", "party-shard-client.ts"))) as {
      sendViaRouter: (socket: OldSocket, payload: string | Uint8Array) => void;
      shardKey: () => Record<string, string>;
    };
    const { joinChat } = (await import(path.join(project, "app", "chat-client.ts"))) as { joinChat: JoinChat };
    // Old partysocket loses message data under Node's EventTarget, so the readers are current ones;
    // the writer, whose URL and id the helper reads, is the old one.
    const sender = new OldPartySocket({ host: server!.host, party: "router", room: "oldest", id: "old-sender", query: shardKey(), WebSocket });
    const inboxes = Array.from({ length: 8 }, () => [] as string[]);
    const readers = inboxes.map((inbox) =>
      joinChat({ host: server!.host, room: "oldest", WebSocket, onSay: ({ from, text }) => inbox.push(`${from}>${text}`) }),
    );
    try {
      await Promise.all([opened({ socket: sender } as unknown as Client), ...readers.map((reader) => opened(reader))]);
      sendViaRouter(sender, "hello from 0.0.10");
      sendViaRouter(sender, new Uint8Array([1, 2, 3]));
      await until(() => inboxes.every((inbox) => inbox.length === 2), 10_000);
      for (const inbox of inboxes) assert.deepEqual(inbox, ["old-sender>hello from 0.0.10", "old-sender><3 bytes>"]);
      const shards = (await (await fetch(`http://${server!.host}/parties/router/oldest`, { headers: { "x-party-shard-view-token": server!.viewToken } })).json()) as { load: number[] };
      assert.equal(shards.load.filter((load) => load > 0).length, SHARDS, "the clients should sit on every shard");
    } finally {
      sender.close();
      for (const reader of readers) reader.leave();
    }
  });

  it("a routed socket's plain send (one migrate could not rewrite) reaches the party through its shard, with that socket as sender", async () => {
    const { PartySocket } = await import("partysocket");
    const writer = new PartySocket({ host: server!.host, party: "router", room: "plain", id: "plain-writer", WebSocket: WebSocket as never });
    const inboxes = Array.from({ length: 8 }, () => [] as string[]);
    const readers = inboxes.map((inbox, i) => {
      const reader = new PartySocket({ host: server!.host, party: "router", room: "plain", id: `plain-reader-${i}`, WebSocket: WebSocket as never });
      reader.addEventListener("message", (event) => {
        const data = JSON.parse(String(event.data)) as { type: string; from?: string; text?: string };
        if (data.type === "say") inbox.push(`${data.from}>${data.text}`);
      });
      return reader;
    });
    try {
      await Promise.all([writer, ...readers].map((socket) => opened({ socket } as unknown as Client)));
      for (const text of ["one", "two", "three"]) writer.send(text);
      await until(() => inboxes.every((inbox) => inbox.length === 3), 10_000);
      for (const inbox of inboxes) assert.deepEqual(inbox, ["plain-writer>one", "plain-writer>two", "plain-writer>three"]);
    } finally {
      writer.close();
      for (const reader of readers) reader.close();
    }
  });
});

interface OldSocket {
  readyState: number;
  addEventListener(type: string, listener: () => void): void;
  close(): void;
}

function opened(client: Client): Promise<void> {
  if (client.socket.readyState === 1) return Promise.resolve();
  return new Promise((resolve) => client.socket.addEventListener("open", () => resolve()));
}

/**
 * Elastic shards, live: a room with a target of 5 clients a shard grows from 3 clients on one
 * shard to 40 on all 8, and back; the shards in use follow, no client is disconnected by it, and
 * every message reaches everyone else exactly once. On both dev servers, with the demo chats
 * (each message broadcast to everyone but its sender).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { PartySocket } from "partysocket";
import { startPartykitDev } from "../../src/infra/partykit-dev.js";
import { startWranglerDev } from "../../src/infra/wrangler-dev.js";
import { PARTYKIT_BIN, copyDemoApp, runCli } from "../helpers/cli.js";
import { until } from "../helpers/wait.js";

const SHARDS = 8;
const TARGET = 5;

interface Client {
  id: string;
  socket: PartySocket;
  said: string[];
  closes: number;
  welcomed: boolean;
}

const PLATFORMS = [
  { name: "partykit dev", app: "demo-chat" as const, router: "router", start: (cwd: string) => startPartykitDev({ cwd, bin: PARTYKIT_BIN }) },
  { name: "wrangler dev", app: "demo-partyserver-chat" as const, router: "party-shard-router", start: (cwd: string) => startWranglerDev({ cwd }) },
];

for (const platform of PLATFORMS) {
  describe(`elastic shards on ${platform.name}: ${TARGET} clients a shard, at most ${SHARDS}`, () => {
    let server: Awaited<ReturnType<typeof platform.start>> | undefined;
    const room = `elastic-${Date.now().toString(36)}`;

    before(async () => {
      const project = copyDemoApp(platform.app);
      for (const args of [["init", "--yes", "--shards", String(SHARDS), "--shard-target", String(TARGET)], ["migrate", "--yes"]]) {
        const result = await runCli(args, project);
        assert.equal(result.exitCode, 0, result.stderr);
      }
      server = await platform.start(project);
    });
    after(() => server?.stop());

    const view = async () =>
      (await (await fetch(`http://${server!.host}/parties/${platform.router}/${room}`, { headers: { "x-party-shard-view-token": server!.viewToken } })).json()) as { load: number[]; inUse: number; target: number };
    const clientCount = async () => (await view()).load.reduce((a, b) => a + b, 0);

    function connect(id: string): Client {
      const socket = new PartySocket({ host: server!.host, party: platform.router, room, id, query: { user: id }, WebSocket: WebSocket as never, maxRetries: 0 });
      const client: Client = { id, socket, said: [], closes: 0, welcomed: false };
      socket.addEventListener("message", (event) => {
        const frame = JSON.parse(String(event.data)) as { type: string; text?: string };
        if (frame.type === "welcome") client.welcomed = true;
        if (frame.type === "say") client.said.push(frame.text!);
      });
      socket.addEventListener("close", () => (client.closes += 1));
      return client;
    }

    /** `from` says `text`; each of `to` must get it exactly once. */
    async function everyoneGets(from: Client, to: Client[], text: string) {
      from.socket.send(text);
      await until(async () => to.every((client) => client.said.includes(text)), 15_000);
      for (const client of to) assert.equal(client.said.filter((said) => said === text).length, 1, `${client.id} got "${text}" ${client.said.filter((said) => said === text).length} times`);
    }

    it("3 clients use 1 shard; 40 use all 8 at 5 each; back at 3 the room uses 1–2; nobody is disconnected, every message reaches everyone once", async () => {
      const keepers = ["k0", "k1", "k2"].map(connect);
      const growers: Client[] = [];
      try {
        await until(async () => keepers.every((client) => client.welcomed), 15_000);
        await until(async () => (await clientCount()) === 3, 10_000);
        let shown = await view();
        assert.deepEqual([shown.target, shown.inUse, shown.load.filter((n) => n > 0).length], [TARGET, 1, 1], JSON.stringify(shown.load));
        await everyoneGets(keepers[0]!, keepers.slice(1), "small");

        for (let i = 0; i < 37; i++) growers.push(connect(`g${i}`));
        await until(async () => growers.every((client) => client.welcomed), 30_000);
        await until(async () => (await clientCount()) === 40, 10_000);
        shown = await view();
        assert.deepEqual(shown.load, new Array(SHARDS).fill(TARGET), "40 clients at 5 a shard");
        assert.equal(shown.inUse, SHARDS);
        await everyoneGets(keepers[1]!, [...keepers.filter((_, i) => i !== 1), ...growers], "grown");

        for (const client of growers) client.socket.close();
        await until(async () => (await clientCount()) === 3, 15_000);
        shown = await view();
        assert.ok(shown.inUse <= 2, `back at 3 clients, ${shown.inUse} shards in use: ${shown.load}`);
        const late = connect("late");
        growers.push(late);
        await until(async () => late.welcomed, 15_000);
        await until(async () => (await clientCount()) === 4, 10_000);
        const lateShard = (await view()).load.findIndex((n, i) => n > shown.load[i]!) + 1;
        assert.ok(lateShard >= 1 && lateShard <= shown.inUse, `the late client went to shard ${lateShard}, ${shown.inUse} in use`);
        await everyoneGets(late, keepers, "shrunk");
        assert.deepEqual(keepers.map((client) => client.closes), [0, 0, 0], "no resize disconnected a client");
        for (const client of keepers) assert.deepEqual(client.said, client.id === "k0" ? ["grown", "shrunk"] : client.id === "k1" ? ["small", "shrunk"] : ["small", "grown", "shrunk"]);
      } finally {
        for (const client of [...keepers, ...growers]) client.socket.close();
      }
    });
  });
}

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { startPartykitDev, type PartykitDev } from "../../src/infra/partykit-dev.js";
import { PARTYKIT_BIN, REPO, makeProject, runCli } from "../helpers/cli.js";
import { sleep, until } from "../helpers/wait.js";

const SHARDS = 3;
const ROUTED = 6;

/** A party with no onMessage: each connection's messages reach a listener added in onConnect. */
const PARTY = `import type * as Party from "partykit/server";

export default class Echo implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onConnect(connection: Party.Connection) {
    connection.addEventListener("message", (event) => {
      this.room.broadcast(\`\${connection.id}: \${String(event.data)}\`);
    });
    connection.addEventListener("close", () => {
      this.room.broadcast(\`\${connection.id} left\`);
    });
  }
}
`;
const CLIENT = `import PartySocket from "partysocket";

export const join = (host: string) => new PartySocket({ host, room: "lobby" });
export const say = (socket: PartySocket, text: string) => socket.send(text);
`;

type Socket = InstanceType<typeof import("partysocket").PartySocket>;

describe("a party that handles messages with addEventListener in onConnect, after init + migrate, on partykit dev", () => {
  let server: PartykitDev | undefined;
  let project = "";

  before(async () => {
    project = makeProject({
      "partykit.json": `{\n  "name": "listener",\n  "main": "party/echo.ts",\n  "compatibilityDate": "2024-07-18"\n}\n`,
      "party/echo.ts": PARTY,
      "app/client.ts": CLIENT,
    });
    // The runtime vendored (party/party-shard-runtime/): the modules as copied run as the package does.
    for (const args of [["init", "--yes", "--shards", String(SHARDS), "--shard-target", "1", "--vendor"], ["migrate", "--yes"]]) {
      const result = await runCli(args, project);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.doesNotMatch(result.stdout, /nothing to/i);
    }
    server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN });
  });
  after(async () => {
    await server?.stop();
    rmSync(project, { recursive: true, force: true });
  });

  it("every message, routed, relayed or direct, reaches the listener once; a leaving client's close listener runs", async () => {
    const { PartySocket } = await import("partysocket");
    const { sendViaRouter } = (await import(path.join(project, "app", "party-shard-client.ts"))) as { sendViaRouter: (socket: Socket, text: string) => Promise<void> };
    const open = (party: string, id: string) => new PartySocket({ host: server!.host, party, room: "lobby", id, WebSocket: WebSocket as never });
    // Clients on the router's shards, and one connected to the party's room directly.
    const sockets = [...Array.from({ length: ROUTED }, (_, i) => open("router", `r${i}`)), open("main", "direct")];
    const inboxes = new Map(sockets.map((socket) => [socket.id, [] as string[]]));
    for (const socket of sockets) socket.addEventListener("message", (event) => inboxes.get(socket.id)!.push(String(event.data)));
    try {
      await Promise.all(sockets.map((socket) => new Promise((resolve) => (socket.readyState === 1 ? resolve(null) : socket.addEventListener("open", resolve)))));
      for (const socket of sockets) {
        if (socket.id === "direct") socket.send("plain");
        else {
          await sendViaRouter(socket, "routed");
          socket.send("plain"); // what migrate could not rewrite: relayed by the socket's shard
        }
      }
      const expected = sockets.flatMap((socket) => (socket.id === "direct" ? ["direct: plain"] : [`${socket.id}: routed`, `${socket.id}: plain`]));
      await until(() => [...inboxes.values()].every((inbox) => inbox.length >= expected.length), 15_000);
      await sleep(300); // late duplicates would land here
      for (const [id, inbox] of inboxes) assert.deepEqual([...inbox].sort(), [...expected].sort(), `${id} received`);
      const load = (await (await fetch(`http://${server!.host}/parties/router/lobby`, { headers: { "x-party-shard-view-token": server!.viewToken } })).json()) as { load: number[] };
      assert.ok(load.load.filter((n) => n > 0).length >= 2, `the routed clients sit on one shard only: ${JSON.stringify(load)}`);

      sockets[0]!.close();
      await until(() => inboxes.get("direct")!.includes("r0 left") && inboxes.get("r1")!.includes("r0 left"), 10_000);
      assert.ok(inboxes.get("direct")!.includes("r0 left"), "the close listener did not run for a client on a shard");
    } finally {
      for (const socket of sockets) socket.close();
    }
  });
});

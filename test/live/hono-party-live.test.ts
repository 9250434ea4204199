import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";
import { startWranglerDev, type WranglerDev } from "../../src/infra/wrangler-dev.js";
import { FIXTURES, REPO, runCli } from "../helpers/cli.js";
import { readRouterLoad } from "../helpers/differential.js";
import { tempDir } from "../helpers/temp.js";
import { waitFor } from "../helpers/wait.js";

/** What the fixture's app/client.ts exports (the migrated copy has the same API). */
interface ChatModule {
  join(options: { host: string; room: string; user: string; token: string; WebSocket: unknown; onMessage: (data: unknown) => void }): { socket: { readyState: number }; say(text: string): void; leave(): void };
}
type Inbox = { type: string; from?: string; text?: string }[];

const FIXTURE = path.join(FIXTURES, "partyserver", "hono-chat");
const TOKEN = "letmein";
const ROOM = "lobby";

/**
 * A Hono app whose rooms hono-party's partyserverMiddleware serves, after init and migrate, on
 * real wrangler dev: clients of the migrated bundle go through the router (two shards, one client
 * each) and see each other's messages, a client of the old bundle still connects straight to the
 * room and sees theirs, the hook still runs for router sockets with the Hono context, and the
 * app's own routes still answer.
 */
describe("hono-party's middleware after init + migrate, on wrangler dev", { concurrency: 1 }, () => {
  const dir = tempDir("hono-chat");
  let server: WranglerDev | undefined;
  let migrated: ChatModule;
  let original: ChatModule;
  const clients: ReturnType<ChatModule["join"]>[] = [];

  before(async () => {
    cpSync(FIXTURE, dir, { recursive: true });
    linkNodeModules(dir, REPO);
    assert.equal((await runCli(["init", "--yes", "--shards", "2", "--shard-target", "1"], dir)).exitCode, 0);
    const before = await runCli(["check"], dir);
    assert.equal(before.exitCode, 1);
    assert.match(before.stdout, /^src\/server\.ts:27:3 {2}partyserverMiddleware is not routed through the shards yet/m);
    const migrate = await runCli(["migrate", "--yes"], dir);
    assert.equal(migrate.exitCode, 0, migrate.stderr);
    assert.match(readFileSync(path.join(dir, "src", "server.ts"), "utf8"), /^ {2}withPartyShard\(partyserverMiddleware\)<\{ Bindings: Bindings \}>\(\{$/m);
    const check = await runCli(["check"], dir);
    assert.equal(check.exitCode, 0, check.stdout);
    migrated = (await import(path.join(dir, "app", "client.ts"))) as ChatModule;
    original = (await import(path.join(FIXTURE, "app", "client.ts"))) as ChatModule;
    server = await startWranglerDev({ cwd: dir });
  });

  after(async () => {
    for (const client of clients) client.leave();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function join(module: ChatModule, user: string): Promise<{ say(text: string): void; inbox: Inbox }> {
    const inbox: Inbox = [];
    const client = module.join({ host: server!.host, room: ROOM, user, token: TOKEN, WebSocket, onMessage: (data) => inbox.push(data as Inbox[number]) });
    clients.push(client);
    await waitFor(`${user}'s welcome`, () => inbox.some((message) => message.type === "welcome"), () => JSON.stringify(inbox));
    return { say: (text) => client.say(text), inbox };
  }

  const said = (inbox: Inbox, from: string, text: string) => () => inbox.some((message) => message.type === "say" && message.from === from && message.text === text);

  it("two clients on the router, one on each shard, and one straight to the room all see each other", async () => {
    const alice = await join(migrated, "alice");
    const bob = await join(migrated, "bob");
    const { load } = await readRouterLoad(server!.host, ROOM, "party-shard-router", server!.viewToken);
    assert.deepEqual(load, [1, 1], "the router put one client on each shard");
    const carol = await join(original, "carol");

    alice.say("hi from alice");
    await waitFor("bob to get alice's message", said(bob.inbox, "alice", "hi from alice"), () => JSON.stringify(bob.inbox));
    await waitFor("carol to get alice's message", said(carol.inbox, "alice", "hi from alice"), () => JSON.stringify(carol.inbox));
    bob.say("hi from bob");
    await waitFor("alice to get bob's message", said(alice.inbox, "bob", "hi from bob"), () => JSON.stringify(alice.inbox));
    carol.say("hi from carol");
    await waitFor("alice to get carol's message", said(alice.inbox, "carol", "hi from carol"), () => JSON.stringify(alice.inbox));
    await waitFor("bob to get carol's message", said(bob.inbox, "carol", "hi from carol"), () => JSON.stringify(bob.inbox));
    // Nobody hears themselves: the party's broadcast leaves the sender out, across shards too.
    assert.ok(!alice.inbox.some((message) => message.from === "alice"));
    assert.ok(!bob.inbox.some((message) => message.from === "bob"));
  });

  it("the party's onBeforeConnect, reading the Hono context, refuses a socket without the token on the router as straight to the room", async () => {
    const refusal = (party: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = new WebSocket(`ws://${server!.host}/parties/${party}/${ROOM}?_pk=mallory&user=mallory&token=wrong`);
        socket.on("unexpected-response", (_request, response) => {
          let body = "";
          response.on("data", (chunk: Buffer) => (body += chunk.toString()));
          response.on("end", () => resolve(`${response.statusCode} ${body}`));
        });
        socket.on("open", () => reject(new Error(`a socket without the token was let into ${party}`)));
        socket.on("error", () => {});
      });
    // hono-party lets a refused socket fall through to the app's next handler: Hono's 404.
    assert.equal(await refusal("chat"), "404 404 Not Found");
    assert.equal(await refusal("party-shard-router"), "404 404 Not Found");
  });

  it("the app's own routes still answer, and the room's own URL is hono-party's", async () => {
    const home = await fetch(`http://${server!.host}/`);
    assert.equal(await home.text(), "hono chat");
    // The class has no onRequest: partyserver's own answer, reached through hono-party.
    const room = await fetch(`http://${server!.host}/parties/chat/${ROOM}`);
    assert.equal(`${room.status} ${await room.text()}`, "404 Not implemented");
  });
});

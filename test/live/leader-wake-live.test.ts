import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { PartySocket } from "partysocket";
import WebSocket from "ws";
import { startPartykitDev, type PartykitDev } from "../../src/infra/partykit-dev.js";
import { PARTYKIT_BIN, copyProject, runCli } from "../helpers/cli.js";
import { sleep, until } from "../helpers/wait.js";

const CLIENTS = 6;
type Answer = { message: string; messages: number; connections: number; startedAt: number };

// Unsharded, a hibernating party's room is evicted when idle although its clients stay
// connected (on partykit dev after ~10 s), and connection state survives in the sockets'
// attachments. Sharded, either the leader stays in memory (its shards' links keep it there on
// partykit dev) or it wakes and gets its clients and their state back from the shards: both
// must answer as the unsharded room does.
describe("a hibernating party's leader after its room sat idle past eviction", () => {
  let server: PartykitDev | undefined;
  let project = "";

  before(async () => {
    project = copyProject("hibernating");
    for (const args of [["init", "--yes", "--shards", "3", "--shard-target", "1"], ["migrate", "--yes"]]) {
      const result = await runCli(args, project);
      assert.equal(result.exitCode, 0, result.stderr);
    }
    server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN });
  });
  after(async () => {
    await server?.stop();
    rmSync(project, { recursive: true, force: true });
  });

  it("still has every connection and each one's state", async () => {
    const answers = Array.from({ length: CLIENTS }, () => [] as Answer[]);
    const sockets = answers.map((inbox, i) => {
      const socket = new PartySocket({ host: server!.host, party: "router", room: "wake", id: `w${i}`, WebSocket: WebSocket as never });
      socket.addEventListener("message", (event) => inbox.push(JSON.parse(String(event.data)) as Answer));
      return socket;
    });
    try {
      await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }))));
      const round = async (text: string, expected: number) => {
        sockets.forEach((socket) => socket.send(text));
        await until(() => answers.every((inbox) => inbox.length === expected), 10_000);
        return answers.map((inbox) => inbox.at(-1)!);
      };
      const first = await round("before", 1);
      assert.deepEqual(first.map((answer) => [answer.messages, answer.connections]), Array(CLIENTS).fill([1, CLIENTS]));
      await sleep(13_000);
      const second = await round("after", 2);
      const woke = second[0]!.startedAt !== first[0]!.startedAt;
      console.log(`leader ${woke ? "was evicted and woke" : "stayed in memory"} during the idle time`);
      // The same counts a direct hibernating room gives: state kept per connection, all connections seen.
      assert.deepEqual(second.map((answer) => [answer.message, answer.messages, answer.connections]), Array(CLIENTS).fill(["after", 2, CLIENTS]));
    } finally {
      sockets.forEach((socket) => socket.close());
    }
  });
});

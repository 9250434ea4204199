import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { PartySocket } from "partysocket";
import WebSocket from "ws";
import { startWranglerDev, type WranglerDev } from "../../src/infra/wrangler-dev.js";
import { copyDemoApp } from "../helpers/cli.js";
import { groupMembers, processesIn } from "../helpers/dev-processes.js";
import { tempDir } from "../helpers/temp.js";

/** A temp copy of the bundled PartyServer chat, resolving its packages from this repo. */
const copyChat = () => copyDemoApp("demo-partyserver-chat");

/** State folders wrangler-dev made (they are named so under the system temp dir). */
function stateFolders(tmp: string): string[] {
  return readdirSync(tmp).filter((name) => name.startsWith("party-shard-wrangler-state-"));
}

function welcome(host: string, room: string): Promise<{ socket: PartySocket; message: { type: string; room: string; online: number } }> {
  return new Promise((resolve, reject) => {
    const socket = new PartySocket({ host, party: "chat", room, query: { user: "alice" }, WebSocket, maxRetries: 0 });
    const timer = setTimeout(() => reject(new Error("no welcome within 15 s")), 15_000);
    socket.addEventListener("message", (event) => {
      clearTimeout(timer);
      resolve({ socket, message: JSON.parse(String(event.data)) });
    }, { once: true });
  });
}

describe("wrangler dev (real, offline) on the PartyServer chat fixture", () => {
  const dirs: string[] = [];
  let server: WranglerDev | undefined;
  after(async () => {
    await server?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("boots, a partysocket client gets the welcome, and stop leaves no process and no state folder", async () => {
    const project = copyChat();
    // The state folder goes under the system temp dir: a folder of this test's own shows what is left there.
    const tmp = tempDir("wrangler-tmp");
    dirs.push(project, tmp);
    const previousTmp = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      server = await startWranglerDev({ cwd: project });
    } finally {
      if (previousTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previousTmp;
    }
    const pgid = server.pid!;
    const members = groupMembers(pgid);
    assert.ok(members.some((line) => line.endsWith("workerd")), `wrangler and workerd run in group ${pgid}: ${members.join("; ")}`);
    assert.equal(stateFolders(tmp).length, 1, readdirSync(tmp).join(", "));

    assert.equal(existsSync(path.join(project, ".wrangler", "tmp")), true, "wrangler bundles into .wrangler/tmp");
    const { socket, message } = await welcome(server.host, "lobby");
    socket.close();
    assert.deepEqual(message, { type: "welcome", room: "lobby", online: 1 });
    // The Worker's own routing and hooks ran: a POST without the token is refused by onBeforeRequest.
    const refused = await fetch(`http://${server.host}/parties/chat/lobby`, { method: "POST", body: "cats" });
    assert.equal(refused.status, 403);

    await server.stop();
    server = undefined;
    assert.deepEqual(groupMembers(pgid), []);
    assert.deepEqual(processesIn(project), []);
    assert.deepEqual(stateFolders(tmp), []);
    // The project is left as it was: the .wrangler/tmp wrangler made is gone, .wrangler with it.
    assert.equal(existsSync(path.join(project, ".wrangler")), false);
  });

  it("fails fast with wrangler's error when a bound class is not exported, and leaves nothing running", async () => {
    const project = copyChat();
    dirs.push(project);
    const config = path.join(project, "wrangler.jsonc");
    writeFileSync(
      config,
      readFileSync(config, "utf8")
        .replace(`{ "name": "Chat", "class_name": "Chat" }`, `{ "name": "Chat", "class_name": "Chat" }, { "name": "PartyShardRouter", "class_name": "PartyShardRouter" }`)
        .replace(`["Chat"] }]`, `["Chat"] }, { "tag": "party-shard-v1", "new_sqlite_classes": ["PartyShardRouter"] }]`),
    );
    assert.match(readFileSync(config, "utf8"), /party-shard-v1/);
    // The developer's own wrangler dev state, there before: kept.
    mkdirSync(path.join(project, ".wrangler", "state"), { recursive: true });
    writeFileSync(path.join(project, ".wrangler", "state", "keep.txt"), "mine");
    const started = Date.now();
    await assert.rejects(startWranglerDev({ cwd: project, readyTimeoutMs: 60_000 }), (error: Error & { exitCode?: number; hint?: string }) => {
      assert.match(error.message, /wrangler dev: Your Worker depends on the following Durable Objects, which are not exported in your entrypoint file: PartyShardRouter/);
      assert.equal(error.exitCode, 1);
      // Where to fix it, without the offline warnings printed before the error.
      assert.match(error.hint ?? "", /You should export these objects from your entrypoint, src\/server\.ts/);
      assert.doesNotMatch(error.hint ?? "", /Request\.cf/);
      return true;
    });
    // Well before the readiness timeout: the error line ends the wait.
    assert.ok(Date.now() - started < 30_000, `failed after ${Date.now() - started} ms`);
    assert.deepEqual(processesIn(project), []);
    assert.equal(readFileSync(path.join(project, ".wrangler", "state", "keep.txt"), "utf8"), "mine");
  });

  it("exit-2 error naming the install command when the project has no wrangler", async () => {
    const project = tempDir("no-wrangler");
    dirs.push(project);
    await assert.rejects(startWranglerDev({ cwd: project }), (error: Error & { exitCode?: number; hint?: string }) => {
      assert.match(error.message, /wrangler is not installed in /);
      assert.equal(error.exitCode, 2);
      assert.match(error.hint ?? "", /npm install -D wrangler/);
      return true;
    });
  });
});

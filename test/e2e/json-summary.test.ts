import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeProject, runCli } from "../helpers/cli.js";

const CONFIG = `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`;
const SERVER = "export default class Server {\n  onMessage() {}\n}\n";
const CLIENT = `import PartySocket from "partysocket";\n\nconst socket = new PartySocket({ host: "localhost:1999", room: "lobby" });\nexport const say = (text: string) => socket.send(text);\n`;
const app = () => makeProject({ "partykit.json": CONFIG, "src/server.ts": SERVER, "src/client.ts": CLIENT });

async function json(args: string[], dir: string, exitCode = 0) {
  const result = await runCli(args, dir);
  assert.equal(result.exitCode, exitCode, result.stderr);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

describe("--json opens with a summary, before the detail", () => {
  it("init, migrate and check: what, where, how much, and the next step", async () => {
    const dir = app();
    const party = { name: "main", file: "src/server.ts" };

    const init = await json(["init", "--json", "--dry-run", "--shards", "6"], dir);
    assert.equal(Object.keys(init)[0], "summary");
    assert.deepEqual(init.summary, {
      command: "init",
      platform: "partykit",
      party,
      shards: 6,
      filesChanged: 3,
      findings: { info: 1, warning: 0, manual: 0 },
      next: "run the same command without --dry-run to write 3 files",
    });
    // The fields before the summary are all still there.
    assert.deepEqual(Object.keys(init), ["summary", "command", "root", "dryRun", "applied", "changes", "findings"]);

    const red = await json(["check", "--json"], dir, 1);
    assert.deepEqual(Object.keys(red), ["summary", "ok", "items", "warnings"]);
    assert.deepEqual(red.summary, { command: "check", platform: "partykit", filesChanged: 0, itemsLeft: 1, findings: { info: 0, warning: 0, manual: 0 }, next: "npx party-shard init sets up the router" });

    assert.equal((await runCli(["init", "--shards", "6"], dir)).exitCode, 0);
    const migrate = await json(["migrate", "--json", "--yes"], dir);
    const summary = migrate.summary as Record<string, unknown>;
    assert.equal(Object.keys(migrate)[0], "summary");
    assert.deepEqual({ ...summary, findings: undefined }, { command: "migrate", platform: "partykit", party, shards: 6, filesChanged: 3, findings: undefined, next: "npx party-shard check lists anything left to shard; npx party-shard verify measures delivery on partykit dev" });
    assert.equal((summary.findings as Record<string, number>).manual, 0);

    const green = await json(["check", "--json"], dir);
    assert.deepEqual(green.summary, { command: "check", platform: "partykit", party, shards: 6, filesChanged: 0, itemsLeft: 0, findings: { info: 0, warning: 0, manual: 0 }, next: "npx party-shard verify measures delivery on partykit dev" });
  });
});

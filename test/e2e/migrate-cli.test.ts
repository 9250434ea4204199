import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { copyDemoApp, makeProject, runCli, snapshotTree } from "../helpers/cli.js";

async function initialized() {
  const dir = copyDemoApp();
  const init = await runCli(["init", "--yes"], dir);
  assert.equal(init.exitCode, 0, init.stderr);
  return dir;
}

describe("party-shard migrate (built CLI, no TTY)", () => {
  it("--dry-run prints the diff of every file and writes nothing", async () => {
    const dir = await initialized();
    const before = snapshotTree(dir);
    const result = await runCli(["migrate", "--dry-run"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /-export default class Chat implements Party\.Server \{\n\+class Chat implements Party\.Server \{/);
    assert.match(result.stdout, /\+export default sharded\(Chat\);/);
    assert.match(result.stdout, /-      socket\.send\(text\);\n\+      void sendViaRouter\(socket, text\);/);
    assert.match(result.stdout, /app\/chat-client\.ts: 1 socket routed, 1 send rewritten/);
    assert.match(result.stdout, /party\/chat\.ts: 1 party patched/);
    assert.deepEqual(snapshotTree(dir), before);
  });

  it("writes, then a re-run changes nothing", async () => {
    const dir = await initialized();
    assert.equal((await runCli(["migrate"], dir)).exitCode, 0);
    assert.match(readFileSync(path.join(dir, "app/chat-client.ts"), "utf8"), /sendViaRouter\(socket, text\)/);
    const after = snapshotTree(dir);
    const again = await runCli(["migrate", "--json"], dir);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).changes, []);
    assert.deepEqual(snapshotTree(dir), after);
  });

  it("--json lists changes and findings with file:line:col", async () => {
    const dir = await initialized();
    const result = await runCli(["migrate", "--json", "--dry-run"], dir);
    const report = JSON.parse(result.stdout);
    assert.deepEqual(report.changes.map((change: { path: string }) => change.path).sort(), [
      "app/chat-client.ts",
      "app/party-shard-client.ts",
      "party/chat.ts",
    ]);
    const rewritten = report.findings.find((finding: { code: string }) => finding.code === "send-rewritten");
    // Client sites are located in the file as it is now, before migrate writes it.
    assert.deepEqual(rewritten.location, { file: "app/chat-client.ts", line: 26, col: 7 });
  });

  it("a file that does not parse is reported and skipped; the rest is migrated", async () => {
    const dir = await initialized();
    writeFileSync(path.join(dir, "app", "broken.ts"), "import PartySocket from 'partysocket';\nconst s = new PartySocket({ host: 'h', room: 'r' ;\ns.send('x');\n");
    const result = await runCli(["migrate", "--json"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    const broken = report.findings.find((finding: { code: string }) => finding.code === "parse-error");
    assert.equal(broken.location.file, "app/broken.ts");
    assert.equal(broken.location.line, 2);
    assert.ok(report.changes.some((change: { path: string }) => change.path === "app/chat-client.ts"));
    assert.ok(!report.changes.some((change: { path: string }) => change.path === "app/broken.ts"));
  });

  it("without init first: exit 2, says so, writes nothing", async () => {
    const dir = makeProject({ "partykit.json": `{ "main": "src/server.ts" }\n`, "src/server.ts": "export default class S {}\n" });
    const before = snapshotTree(dir);
    const result = await runCli(["migrate"], dir);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /partykit\.json: No party-shard router in partykit\.json: run `npx party-shard init` first/);
    assert.deepEqual(snapshotTree(dir), before);
  });

  it("a tsconfig it cannot read: exit 2 with where and why, nothing written", async () => {
    const dir = await initialized();
    writeFileSync(path.join(dir, "tsconfig.json"), `{\n  "compilerOptions": { "strict": true, },\n  oops\n}\n`);
    const before = snapshotTree(dir);
    const result = await runCli(["migrate"], dir);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /tsconfig\.json:3:3: Not a usable tsconfig: Property assignment expected\./);
    assert.deepEqual(snapshotTree(dir), before);
  });

  it("a generated runtime edited in place is kept unless --force", async () => {
    const dir = await initialized();
    assert.equal((await runCli(["migrate"], dir)).exitCode, 0);
    const glue = path.join(dir, "party", "party-shard-server.ts");
    writeFileSync(glue, readFileSync(glue, "utf8").replace("const ROUTER_PARTY = ", "// Tuned by hand.\nconst ROUTER_PARTY = "));
    const before = snapshotTree(dir);
    const refused = await runCli(["migrate"], dir);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /party\/party-shard-server\.ts was edited since party-shard generated it/);
    assert.deepEqual(snapshotTree(dir), before);
    assert.equal((await runCli(["migrate", "--force"], dir)).exitCode, 0);
    assert.match(readFileSync(glue, "utf8"), /export const sharded: <T>/);
  });

  it("a runtime replaced by the user's own file is never overwritten, not even with --force", async () => {
    const dir = await initialized();
    assert.equal((await runCli(["migrate"], dir)).exitCode, 0);
    writeFileSync(path.join(dir, "party", "party-shard-server.ts"), "// mine now\n");
    const before = snapshotTree(dir);
    for (const args of [["migrate"], ["migrate", "--force"]]) {
      const refused = await runCli(args, dir);
      assert.equal(refused.exitCode, 2);
      assert.match(refused.stderr, /party\/party-shard-server\.ts already exists and party-shard did not generate it/);
      assert.deepEqual(snapshotTree(dir), before);
    }
  });

  it("an untouched file from an earlier party-shard (no checksum) is upgraded without --force", async () => {
    const dir = await initialized();
    const glue = path.join(dir, "party", "party-shard-server.ts");
    writeFileSync(glue, "/**\n * Server side of party-shard. Generated by party-shard; regenerate with migrate.\n */\nexport async function routedWrite() {}\n");
    const result = await runCli(["migrate", "--yes"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(readFileSync(glue, "utf8"), /export const sharded: <T>/);
  });
});

describe("party-shard migrate: partysocket missing from package.json", () => {
  for (const [lockfile, command] of [["pnpm-lock.yaml", "pnpm add partysocket"], ["package-lock.json", "npm install partysocket"]]) {
    it(`says to run \`${command}\` when the project has ${lockfile}`, async () => {
      const dir = await initialized();
      writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "app", devDependencies: { partykit: "*" } }));
      writeFileSync(path.join(dir, lockfile), "");
      const result = await runCli(["migrate", "--dry-run"], dir);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`package\\.json +The client code uses partysocket, but package\\.json does not list it\\. Run: ${command}`));
    });
  }

  it("says nothing when package.json lists it", async () => {
    const dir = await initialized();
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "app", dependencies: { partysocket: "^1.3.0" } }));
    const result = await runCli(["migrate", "--dry-run"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /\+\+\+ b\/app\/chat-client\.ts/);
    assert.doesNotMatch(result.stdout, /does not list it/);
  });
});

import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { applyPlan } from "../../src/infra/apply-plan.js";
import { copyDemoApp, runCli } from "../helpers/cli.js";

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
// "é" as Latin-1 (Windows-1252) saves it: one byte that is not UTF-8.
const LATIN1_CLIENT = Buffer.concat([
  Buffer.from(`import PartySocket from "partysocket";\n\n// Caf`),
  Buffer.from([0xe9]),
  Buffer.from(` chat\nconst socket = new PartySocket({ host: "localhost:1999", room: "cafe" });\nexport const say = (text: string) => socket.send(text);\n`),
]);

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function initialized(): Promise<string> {
  const dir = copyDemoApp();
  dirs.push(dir);
  const init = await runCli(["init", "--yes"], dir);
  assert.equal(init.exitCode, 0, init.stderr);
  return dir;
}

const bytes = (dir: string, file: string) => readFileSync(path.join(dir, file));

describe("encodings: what party-shard cannot write back exactly, it does not write", () => {
  it("keeps a UTF-8 BOM on the party and a client file; a second migrate changes nothing", async () => {
    const dir = await initialized();
    for (const file of ["party/chat.ts", "app/chat-client.ts"]) writeFileSync(path.join(dir, file), Buffer.concat([BOM, bytes(dir, file)]));

    const first = await runCli(["migrate", "--yes"], dir);
    assert.equal(first.exitCode, 0, first.stderr);
    for (const file of ["party/chat.ts", "app/chat-client.ts"]) {
      assert.deepEqual(bytes(dir, file).subarray(0, 3), BOM, `${file} lost its BOM`);
      assert.notEqual(bytes(dir, file)[3], 0xef, `${file} got a second BOM`);
    }
    assert.match(bytes(dir, "app/chat-client.ts").toString(), /sendViaRouter\(socket, text\)/);
    assert.match(bytes(dir, "party/chat.ts").toString(), /export default sharded\(Chat\);/);

    const again = await runCli(["migrate", "--yes", "--json"], dir);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout).changes, []);
    assert.equal((await runCli(["check"], dir)).exitCode, 0);
  });

  it("leaves a client file that is not UTF-8 byte for byte, reports it with its path, and migrates the rest", async () => {
    const dir = await initialized();
    writeFileSync(path.join(dir, "app/latin1-client.ts"), LATIN1_CLIENT);

    const result = await runCli(["migrate", "--yes", "--json"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.deepEqual(bytes(dir, "app/latin1-client.ts"), LATIN1_CLIENT);
    assert.match(bytes(dir, "app/chat-client.ts").toString(), /sendViaRouter\(socket, text\)/);
    const finding = JSON.parse(result.stdout).findings.find((item: { code: string }) => item.code === "not-utf8");
    assert.deepEqual(finding?.location, { file: "app/latin1-client.ts", line: 3, col: 7 });
    assert.equal(finding.level, "manual");
    assert.match(finding.message, /Not valid UTF-8 \(byte 0xE9\).*untouched/);

    // And in the human report, with where.
    const again = await runCli(["migrate", "--yes"], dir);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /app\/latin1-client\.ts:3:7 +Not valid UTF-8/);
    assert.deepEqual(bytes(dir, "app/latin1-client.ts"), LATIN1_CLIENT);
  });

  it("refuses a party file that is not UTF-8 (exit 2, where), writing nothing", async () => {
    const dir = await initialized();
    const party = Buffer.concat([Buffer.from("// \xE9t\xE9\n", "latin1"), bytes(dir, "party/chat.ts")]);
    writeFileSync(path.join(dir, "party/chat.ts"), party);
    const client = bytes(dir, "app/chat-client.ts");

    const result = await runCli(["migrate", "--yes"], dir);
    assert.equal(result.exitCode, 2);
    assert.match(result.stderr, /party\/chat\.ts:1:4: Not valid UTF-8 \(byte 0xE9\)/);
    assert.deepEqual(bytes(dir, "party/chat.ts"), party);
    assert.deepEqual(bytes(dir, "app/chat-client.ts"), client);
  });

  it("the applier itself never writes over bytes that are not UTF-8, even given a plan that read them lossily", async () => {
    const dir = await initialized();
    writeFileSync(path.join(dir, "app/latin1-client.ts"), LATIN1_CLIENT);
    const lossy = LATIN1_CLIENT.toString("utf8");
    const plan = { root: dir, changes: [{ path: "app/latin1-client.ts", before: lossy, after: lossy.replace("socket.send(text)", "socket.send(text + '!')") }], findings: [] };
    await assert.rejects(applyPlan(plan), /Not valid UTF-8 \(byte 0xE9\); party-shard does not rewrite such a file, and nothing was written/);
    assert.deepEqual(bytes(dir, "app/latin1-client.ts"), LATIN1_CLIENT);
  });
});

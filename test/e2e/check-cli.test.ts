import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { copyDemoApp, makeProject, runCli, snapshotTree } from "../helpers/cli.js";

describe("party-shard check (built CLI, no TTY)", () => {
  it("exit 1 before init, listing the config", async () => {
    const dir = copyDemoApp();
    const result = await runCli(["check"], dir);
    assert.equal(result.exitCode, 1);
    assert.match(result.stdout, /^partykit\.json {2}no party-shard router party/m);
  });

  it("exit 1 after init alone, with file:line:col for each site, and writes nothing", async () => {
    const dir = copyDemoApp();
    await runCli(["init", "--yes"], dir);
    const before = snapshotTree(dir);
    const result = await runCli(["check"], dir);
    assert.equal(result.exitCode, 1);
    assert.match(result.stdout, /^app\/chat-client\.ts:26:7 {2}socket\.send is not routed yet/m);
    assert.match(result.stdout, /party-shard check: 4 items left\./);
    assert.deepEqual(snapshotTree(dir), before);
  });

  it("lists an unrouted socket and send in a .vue component's <script setup> at the file's line:col; green after migrate", async () => {
    const dir = copyDemoApp();
    await runCli(["init", "--yes"], dir);
    await runCli(["migrate", "--yes"], dir);
    const component = path.join(dir, "app", "Chat.vue");
    const text = '<template>\n  <button @click="hello">Hello</button>\n</template>\n\n<script setup lang="ts">\nimport PartySocket from "partysocket";\n\nconst socket = new PartySocket({ host: "localhost:1999", room: "lobby" });\nfunction hello() {\n  socket.send("hello");\n}\n</script>\n';
    writeFileSync(component, text);
    const before = snapshotTree(dir);
    const red = await runCli(["check"], dir);
    assert.equal(red.exitCode, 1, red.stdout);
    assert.match(red.stdout, /^app\/Chat\.vue:8:16 {2}socket connects to the sharded party directly/m);
    assert.match(red.stdout, /^app\/Chat\.vue:10:3 {2}socket\.send is not routed yet/m);
    assert.deepEqual(snapshotTree(dir), before);

    assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);
    const migrated = readFileSync(component, "utf8");
    assert.equal(migrated.slice(0, migrated.indexOf("<script")), text.slice(0, text.indexOf("<script")));
    assert.match(migrated, /^ {2}void sendViaRouter\(socket, "hello"\);$/m);
    const green = await runCli(["check"], dir);
    assert.equal(green.exitCode, 0, green.stdout);
    assert.match(green.stdout, /fully sharded/);
  });

  it("an unterminated <script> in a component is a manual step at its line:col, and migrate leaves the file as it is", async () => {
    const dir = copyDemoApp();
    await runCli(["init", "--yes"], dir);
    await runCli(["migrate", "--yes"], dir);
    const broken = '<p>Hi</p>\n<script lang="ts">\nimport PartySocket from "partysocket";\nnew PartySocket({ host: "h", room: "r" }).send("x");\n';
    writeFileSync(path.join(dir, "app", "Broken.svelte"), broken);
    const result = await runCli(["check"], dir);
    assert.equal(result.exitCode, 1);
    assert.match(result.stdout, /^app\/Broken\.svelte:2:1 {2}Does not parse \(This `<script>` is never closed\); skipped\./m);
    await runCli(["migrate", "--yes"], dir);
    assert.equal(readFileSync(path.join(dir, "app", "Broken.svelte"), "utf8"), broken);
  });

  it("--json and --format github carry the same items", async () => {
    const dir = copyDemoApp();
    await runCli(["init", "--yes"], dir);
    const json = JSON.parse((await runCli(["check", "--json"], dir)).stdout);
    assert.equal(json.ok, false);
    assert.equal(json.items.length, 4);
    const github = (await runCli(["check", "--format", "github"], dir)).stdout;
    assert.equal(github.match(/^::error /gm)?.length, 4);
    assert.match(github, /^::error file=app\/chat-client\.ts,line=26,col=7::socket\.send is not routed yet/m);
    assert.match(github, /^::error file=party\/chat\.ts,line=29,col=1::the party does not lead its shards yet/m);
  });

  it("exit 0 once init and migrate ran; --strict catches an outdated router", async () => {
    const dir = copyDemoApp();
    await runCli(["init", "--yes"], dir);
    await runCli(["migrate", "--yes"], dir);
    const clean = await runCli(["check", "--strict"], dir);
    assert.equal(clean.exitCode, 0, clean.stdout);
    assert.match(clean.stdout, /fully sharded/);
    writeFileSync(path.join(dir, "app", "late.ts"), 'import { PartySocket } from "partysocket";\nnew PartySocket({ host: "h", room: "r", party: "router" }).send("x");\n');
    const late = await runCli(["check"], dir);
    assert.equal(late.exitCode, 1);
    assert.match(late.stdout, /^app\/late\.ts:2:1 {2}socket\.send is not routed yet/m);
  });

  it("--strict flags a router edited since init", async () => {
    const dir = copyDemoApp();
    await runCli(["init", "--yes"], dir);
    await runCli(["migrate", "--yes"], dir);
    const router = path.join(dir, "party", "router.ts");
    writeFileSync(router, `${(await import("node:fs")).readFileSync(router, "utf8")}\n// local tweak\n`);
    assert.equal((await runCli(["check"], dir)).exitCode, 0);
    const strict = await runCli(["check", "--strict"], dir);
    assert.equal(strict.exitCode, 1);
    assert.match(strict.stdout, /party\/router\.ts {2}the router differs/);
  });

  it("warnings alone leave CI green (exit 0, every format); a manual step left turns it red", async () => {
    const dir = copyDemoApp();
    try {
      assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
      assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);
      // Two warnings: an edited router (fails only --strict) and a tsconfig whose base is not installed.
      const router = path.join(dir, "party", "router.ts");
      writeFileSync(router, `${readFileSync(router, "utf8")}\n// local tweak\n`);
      writeFileSync(path.join(dir, "tsconfig.json"), '{ "extends": "@tsconfig/not-installed/tsconfig.json" }\n');

      const text = await runCli(["check"], dir);
      assert.equal(text.exitCode, 0, text.stdout);
      assert.match(text.stdout, /^party\/router\.ts {2}warning: the router differs from what this party-shard version generates/m);
      assert.match(text.stdout, /^tsconfig\.json:1:\d+ {2}warning: Read this tsconfig without what it could not/m);
      assert.match(text.stdout, /^party-shard check: fully sharded \(2 warnings, which do not fail the check\)\.$/m);
      const github = await runCli(["check", "--format", "github"], dir);
      assert.equal(github.exitCode, 0, github.stdout);
      assert.equal(github.stdout.match(/^::warning file=/gm)?.length, 2);
      assert.doesNotMatch(github.stdout, /^::error/m);
      const json = await runCli(["check", "--json"], dir);
      assert.equal(json.exitCode, 0);
      const report = JSON.parse(json.stdout);
      assert.deepEqual([report.ok, report.items.length], [true, 0]);
      assert.deepEqual(report.warnings.map((warning: { code: string }) => warning.code).sort(), ["router-outdated", "tsconfig-partly-read"]);
      assert.equal((await runCli(["check", "--strict"], dir)).exitCode, 1);

      // A send migrate cannot classify is work for the user: an item, exit 1.
      writeFileSync(path.join(dir, "app", "dynamic.ts"), 'import { PartySocket } from "partysocket";\nconst socket = new PartySocket({ host: "h", room: "r", party: "chat" });\nconst method = "send" as const;\nsocket[method]("x");\n');
      const red = await runCli(["check", "--format", "github"], dir);
      assert.equal(red.exitCode, 1, red.stdout);
      assert.match(red.stdout, /^::error file=app\/dynamic\.ts,line=4,col=1::`socket\[method\]` reaches a socket method by a computed name/m);
      assert.equal(red.stdout.match(/^::warning file=/gm)?.length, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exit 2 on bad input", async () => {
    const noConfig = await runCli(["check"], makeProject({ "a.txt": "" }));
    assert.equal(noConfig.exitCode, 2);
    const badFormat = await runCli(["check", "--format", "xml"], copyDemoApp());
    assert.equal(badFormat.exitCode, 2);
    assert.match(badFormat.stderr, /argument 'xml' is invalid/);
  });
});

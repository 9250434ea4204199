import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { makeProject, runCli, snapshotTree } from "../helpers/cli.js";

const SOURCE = 'import type * as Party from "partykit/server";\n\nexport default class Chat implements Party.Server {\n  constructor(readonly room: Party.Room) {}\n\n  onMessage(message: string) {\n    this.room.broadcast(message);\n  }\n}\n';
const CHAT = "export default {\n  onConnect(connection, room) {\n    connection.addEventListener(\"message\", (event) => room.broadcast(String(event.data)));\n  },\n};\n";
/** What a build step made of SOURCE: esbuild's output under dist/, with its map. */
const BUILT = "// src/server.ts\nvar Chat = class {\n  constructor(room) {\n    this.room = room;\n  }\n  onMessage(message) {\n    this.room.broadcast(message);\n  }\n};\nexport {\n  Chat as default\n};\n//# sourceMappingURL=index.js.map\n";

const builtApp = () =>
  makeProject({
    "partykit.json": `{\n  "name": "app",\n  "main": "dist/index.js",\n  "parties": {\n    "chat": "party/chat.js"\n  }\n}\n`,
    "src/server.ts": SOURCE,
    "party/chat.js": CHAT,
    "dist/index.js": BUILT,
    "dist/index.js.map": '{"version":3,"sources":["../src/server.ts"],"mappings":""}',
  });

describe("init picks the right party (built CLI, no TTY)", () => {
  it("main built into dist/: exit 2 naming its source; --party <source> shards main from the source, and migrate patches the source", async () => {
    const dir = builtApp();
    try {
      const before = snapshotTree(dir);
      const refused = await runCli(["init", "--yes"], dir);
      assert.equal(refused.exitCode, 2, refused.stderr);
      assert.match(refused.stderr, /  src\/server\.ts \(built into dist\/index\.js\): onMessage\n  party\/chat\.js \(party "chat"\): onConnect/);
      assert.match(refused.stderr, /--party src\/server\.ts/);
      assert.deepEqual(snapshotTree(dir), before);

      const init = await runCli(["init", "--party", "src/server.ts", "--yes"], dir);
      assert.equal(init.exitCode, 0, init.stderr);
      const router = readFileSync(path.join(dir, "src/router.ts"), "utf8");
      assert.match(router, /^export const SHARDED_PARTY = "main";$/m);
      assert.match(router, /^import Sharded from "\.\/server";$/m);
      assert.match(readFileSync(path.join(dir, "partykit.json"), "utf8"), /"router": "src\/router\.ts"/);

      const migrate = await runCli(["migrate", "--yes"], dir);
      assert.equal(migrate.exitCode, 0, migrate.stderr);
      assert.match(readFileSync(path.join(dir, "src/server.ts"), "utf8"), /^export default sharded\(Chat\);$/m);
      assert.equal(readFileSync(path.join(dir, "dist/index.js"), "utf8"), BUILT, "the build output is the build's to rewrite");
      const check = await runCli(["check", "--strict"], dir);
      assert.equal(check.exitCode, 0, check.stdout);
      assert.match(check.stdout, /fully sharded/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--party main, asked for by name, is taken as it is; migrate then leaves the build output alone and check names the source", async () => {
    const dir = builtApp();
    try {
      assert.equal((await runCli(["init", "--party", "main", "--yes"], dir)).exitCode, 0);
      const migrate = await runCli(["migrate", "--yes"], dir);
      assert.match(migrate.stdout + migrate.stderr, /dist\/index\.js:1:1 +The sharded party's file is a build output \(it is under dist\/\)/);
      assert.equal(readFileSync(path.join(dir, "dist/index.js"), "utf8"), BUILT);
      const check = await runCli(["check"], dir);
      assert.equal(check.exitCode, 1, check.stdout);
      assert.match(check.stdout, /^dist\/index\.js:1:1 {2}.*Shard its source instead: npx party-shard init --party src\/server\.ts, then migrate again\.$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--party <file> of a configured party is that party; it handles messages with addEventListener and is patched", async () => {
    const dir = builtApp();
    try {
      const init = await runCli(["init", "--party", "./party/chat.js", "--yes"], dir);
      assert.equal(init.exitCode, 0, init.stderr);
      // Beside the party, not in dist/ where main is built.
      assert.match(readFileSync(path.join(dir, "partykit.json"), "utf8"), /"chat-router": "party\/chat-router\.ts"/);
      const migrate = await runCli(["migrate", "--yes"], dir);
      assert.equal(migrate.exitCode, 0, migrate.stderr);
      assert.match(migrate.stdout, /party\/chat\.js: 1 party patched/);
      assert.match(readFileSync(path.join(dir, "party/chat.js"), "utf8"), /^export default sharded\(\{$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

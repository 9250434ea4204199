import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { copyDemoApp, runCli, snapshotTree } from "../helpers/cli.js";
import { editedSinceGenerated } from "../../src/core/render-template.js";

/** A temp copy of the bundled PartyServer chat, resolving its packages from this repo. */
const copyChat = () => copyDemoApp("demo-partyserver-chat");

const read = (dir: string, file: string) => readFileSync(path.join(dir, file), "utf8");

describe("party-shard on a PartyServer project (built CLI, no TTY)", { concurrency: 2 }, () => {
  it("init --dry-run shows the plan and writes nothing", async () => {
    const dir = copyChat();
    try {
      const before = snapshotTree(dir);
      const result = await runCli(["init", "--dry-run"], dir);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(result.stdout, /\+.*"name": "PartyShardRouter", "class_name": "PartyShardRouter"/);
      assert.match(result.stdout, /^\+export \{ PartyShardRouter \} from "\.\/party-shard-server";$/m);
      assert.match(result.stdout, /^\+ src\/party-shard-server\.ts \(generated, \d+ lines; --verbose shows it\)$/m);
      assert.deepEqual(snapshotTree(dir), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("init, migrate, check: exit 1 before migrate, 0 after; a second run changes nothing", async () => {
    const dir = copyChat();
    try {
      const init = await runCli(["init", "--shards", "3", "--yes"], dir);
      assert.equal(init.exitCode, 0, init.stderr);
      assert.match(read(dir, "wrangler.jsonc"), /"tag": "party-shard-v1", "new_sqlite_classes": \["PartyShardRouter"\]/);
      const runtime = read(dir, "src/party-shard-server.ts");
      assert.match(runtime, /^const SHARDED_BINDING = "Chat";$/m);
      assert.match(runtime, /^const SHARD_COUNT = 3;$/m);
      assert.equal(editedSinceGenerated(runtime), false);

      const before = await runCli(["check"], dir);
      assert.equal(before.exitCode, 1, before.stdout);
      assert.match(before.stdout, /^src\/server\.ts:13:27 {2}the class does not lead its shards yet/m);
      assert.match(before.stdout, /^app\/chat-client\.js:8:18 {2}socket connects to the sharded party directly/m);

      const migrate = await runCli(["migrate", "--yes"], dir);
      assert.equal(migrate.exitCode, 0, migrate.stderr);
      const server = read(dir, "src/server.ts");
      assert.match(server, /^export class Chat extends Sharded<Env> \{$/m);
      assert.match(server, /await routePartyShard\(request, env, \{$/m);
      assert.match(read(dir, "app/chat-client.js"), /party: "party-shard-router",\n {4}room: options\.room,\n {4}query: shardKey\(\{ user: options\.user \}\),/);
      assert.match(read(dir, "app/party-shard-client.ts"), /"party-shard-router"/);

      const after = await runCli(["check"], dir);
      assert.equal(after.exitCode, 0, after.stdout);
      assert.match(after.stdout, /party-shard check: fully sharded/);
      const snapshot = snapshotTree(dir);
      const again = await runCli(["migrate", "--yes"], dir);
      assert.equal(again.exitCode, 0, again.stderr);
      assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
      assert.deepEqual(snapshotTree(dir), snapshot);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("check is exit 1 naming the file when main loses the router's export, and the config its binding", async () => {
    const dir = copyChat();
    try {
      assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
      assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);
      const main = path.join(dir, "src", "server.ts");
      writeFileSync(main, read(dir, "src/server.ts").replace(/^export \{ PartyShardRouter \} from .*\n/m, ""));
      const config = path.join(dir, "wrangler.jsonc");
      writeFileSync(config, read(dir, "wrangler.jsonc").replace(', { "name": "PartyShardRouter", "class_name": "PartyShardRouter" }', ""));
      const result = await runCli(["check"], dir);
      assert.equal(result.exitCode, 1, result.stdout);
      assert.match(result.stdout, /^src\/server\.ts:1:1 {2}the Worker's main does not export PartyShardRouter/m);
      assert.match(result.stdout, /^wrangler\.jsonc:\d+ {2}no "PartyShardRouter" binding in durable_objects\.bindings/m);
      assert.match(result.stdout, /party-shard check: 2 items left\./);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bad input: --party unknown, or no class to shard, is exit 2 with nothing written", async () => {
    const dir = copyChat();
    try {
      const before = snapshotTree(dir);
      const unknown = await runCli(["init", "--party", "Lobby", "--yes"], dir);
      assert.equal(unknown.exitCode, 2, unknown.stdout + unknown.stderr);
      assert.match(unknown.stderr, /--party Lobby is not a Durable Object binding in wrangler\.jsonc \(it has: Chat\)/);
      // The class loses its handlers: nothing left worth sharding.
      writeFileSync(path.join(dir, "src", "server.ts"), read(dir, "src/server.ts").replace(/\bon(Connect|Message|Close)\(/g, "handle$1("));
      const changed = snapshotTree(dir);
      const none = await runCli(["init", "--yes"], dir);
      assert.equal(none.exitCode, 2, none.stdout + none.stderr);
      assert.match(none.stderr, /No Durable Object class in wrangler\.jsonc can be sharded/);
      assert.match(none.stderr, /Chat: left out, class Chat has no socket handlers/);
      assert.deepEqual(snapshotTree(dir), changed);
      assert.notDeepEqual(changed, before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--party takes the URL name or the class's file; a socket to no party is warned about and left as it is", async () => {
    const dir = copyChat();
    try {
      for (const party of ["chat", "src/server.ts", "Chat"]) {
        const dry = await runCli(["init", "--party", party, "--dry-run"], dir);
        assert.equal(dry.exitCode, 0, `--party ${party}: ${dry.stderr}`);
        assert.match(dry.stdout, /would create src\/party-shard-server\.ts/);
      }
      assert.equal((await runCli(["init", "--party", "chat", "--yes"], dir)).exitCode, 0);
      const lobby = 'import PartySocket from "partysocket";\n\nexport const lobby = new PartySocket({ host: "localhost:8787", room: "lobby" });\nlobby.send("hi");\n';
      writeFileSync(path.join(dir, "app", "lobby.js"), lobby);
      const result = await runCli(["migrate", "--json", "--dry-run"], dir);
      assert.equal(result.exitCode, 0, result.stderr);
      const report = JSON.parse(result.stdout);
      assert.ok(!report.changes.some((change: { path: string }) => change.path === "app/lobby.js"), "the socket without a party is left as it is");
      const warning = report.findings.find((finding: { code: string }) => finding.code === "socket-main-party");
      assert.equal(warning?.level, "warning");
      assert.deepEqual(warning?.location, { file: "app/lobby.js", line: 3, col: 22 });
      assert.match(warning?.message, /PartyServer does not have: the Worker answers 400/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a wrangler.toml project: init appends the router's binding and migration, check is green after migrate", async () => {
    const dir = copyChat();
    try {
      rmSync(path.join(dir, "wrangler.jsonc"));
      const toml = 'name = "partyserver-chat"\nmain = "src/server.ts"\ncompatibility_date = "2026-04-20"\n\n[[durable_objects.bindings]]\nname = "Chat"\nclass_name = "Chat"\n\n[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Chat"]\n';
      writeFileSync(path.join(dir, "wrangler.toml"), toml);
      assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
      const config = read(dir, "wrangler.toml");
      assert.ok(config.startsWith(toml), config);
      assert.match(config, /name = "PartyShardRouter"\nclass_name = "PartyShardRouter"/);
      assert.match(config, /tag = "party-shard-v1"\nnew_sqlite_classes = \["PartyShardRouter"\]/);
      assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);
      const check = await runCli(["check"], dir);
      assert.equal(check.exitCode, 0, check.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a Worker that forwards to the rooms itself: check names the line that routes the router's URLs, until it is there", async () => {
    const dir = copyChat();
    try {
      const main = path.join(dir, "src", "server.ts");
      const worker = read(dir, "src/server.ts").replace("import { routePartykitRequest, Server,", "import { getServerByName, Server,").replace(
        /^export default \{[^]*$/m,
        [
          "export default {",
          "  async fetch(request: Request, env: Env): Promise<Response> {",
          '    const [, , party, room] = new URL(request.url).pathname.split("/");',
          '    if (party !== "chat" || !room) return new Response("Not found", { status: 404 });',
          "    return (await getServerByName(env.Chat, room)).fetch(request);",
          "  },",
          "} satisfies ExportedHandler<Env>;",
          "",
        ].join("\n"),
      );
      writeFileSync(main, worker);
      assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
      assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);
      const left = await runCli(["check"], dir);
      assert.equal(left.exitCode, 1, left.stdout);
      assert.match(left.stdout, /^src\/server\.ts:64:35 {2}Nothing in the Worker sends the router's URLs \(\/parties\/party-shard-router\/<room>\) to routePartyShard: after deploy they answer 404/m);
      assert.match(left.stdout, /before it, add `if \(new URL\(request\.url\)\.pathname\.startsWith\("\/parties\/party-shard-router\/"\)\) return \(await routePartyShard\(request, env\)\) \?\? new Response\("Not found", \{ status: 404 \}\);` \(import \{ routePartyShard \} from "\.\/party-shard-server"/);

      // The step, as the item says it.
      writeFileSync(
        main,
        read(dir, "src/server.ts")
          .replace('import { Sharded } from "./party-shard-server";', 'import { Sharded, routePartyShard } from "./party-shard-server";')
          .replace("    const [, , party, room]", '    if (new URL(request.url).pathname.startsWith("/parties/party-shard-router/")) return (await routePartyShard(request, env)) ?? new Response("Not found", { status: 404 });\n    const [, , party, room]'),
      );
      const routed = await runCli(["check"], dir);
      assert.doesNotMatch(routed.stdout, /Nothing in the Worker sends/);
      // The forward itself is still reported, as any direct use of the binding is.
      assert.match(routed.stdout, /^src\/server\.ts:65:35 {2}This forwards to the Chat rooms directly/m);
      assert.match(routed.stdout, /party-shard check: 1 item left\./);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("migrate before init is exit 2 and writes nothing", async () => {
    const dir = copyChat();
    try {
      const before = snapshotTree(dir);
      const result = await runCli(["migrate", "--yes"], dir);
      assert.equal(result.exitCode, 2, result.stdout + result.stderr);
      assert.match(result.stderr, /run `npx party-shard init` first/);
      assert.deepEqual(snapshotTree(dir), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

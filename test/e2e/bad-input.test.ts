import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { renderRouter } from "../../src/core/partykit/render-router.js";
import { renderHelper } from "../../src/core/migrate/client/render-helper.js";
import { renderGlue } from "../../src/core/partykit/render-glue.js";
import { makeProject, runCli } from "../helpers/cli.js";
import { treeHash } from "../helpers/tree-hash.js";
import { commandIn } from "../../src/ui/error-report.js";
import { packageFiles } from "../../src/infra/package-files.js";

/**
 * One row per way to hand party-shard bad input: a small project, a command line for the built
 * CLI, the exit code, a fragment of stderr saying where and why, and the proof (a hash of the
 * whole tree) that nothing was created, changed or removed.
 */
interface BadInput {
  name: string;
  files: Record<string, string>;
  args: string[];
  message: RegExp;
  /** 2 unless said otherwise: bad input. */
  exitCode?: number;
  /** Runs after the files are written and before the tree is hashed. */
  setup?: (dir: string) => Promise<void>;
}

const CONFIG = `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`;
// A party with a WebSocket handler: init refuses one without (see choose-party.ts).
const SERVER = "export default class Server {\n  onMessage() {}\n}\n";
const BASE = { "partykit.json": CONFIG, "src/server.ts": SERVER };
const WITH_CHAT = (chat: Record<string, string>) => ({
  "partykit.json": `{\n  "main": "src/server.ts",\n  "parties": {\n    "chat": "src/chat.ts"\n  }\n}\n`,
  "src/server.ts": SERVER,
  ...chat,
});
const CLIENT = `import PartySocket from "partysocket";\n\nconst socket = new PartySocket({ host: "localhost:1999", room: "lobby" });\nexport const say = (text: string) => socket.send(text);\n`;
/** A project `init` has set up: the router entry, the router and its runtime. */
const INITIALIZED = {
  "partykit.json": `{\n  "main": "src/server.ts",\n  "parties": {\n    "router": "src/router.ts"\n  }\n}\n`,
  "src/server.ts": SERVER,
  "src/router.ts": renderRouter({ shardedParty: "main", routerParty: "router", shardCount: 4, partyImport: "./server", glueImport: "./party-shard-server" }, packageFiles),
  "src/party-shard-server.ts": renderGlue({ shardedParty: "main", routerParty: "router", mode: "package" }, packageFiles),
};
/** A party's source, and a `main` built from it: an esbuild bundle under dist/ with its map. */
const CHAT_PARTY = "export default {\n  onMessage(message, sender, room) {\n    room.broadcast(message);\n  },\n};\n";
const BUILT_MAIN = {
  "partykit.json": `{\n  "main": "dist/index.js",\n  "parties": {\n    "chat": "src/chat.ts"\n  }\n}\n`,
  "src/server.ts": SERVER,
  "src/chat.ts": CHAT_PARTY,
  "dist/index.js": "// src/server.ts\nvar Server = class {\n  onMessage() {\n  }\n};\nexport {\n  Server as default\n};\n//# sourceMappingURL=index.js.map\n",
  "dist/index.js.map": `{"version":3,"sources":["../src/server.ts"],"mappings":""}`,
};
const without = (files: Record<string, string>, file: string) => Object.fromEntries(Object.entries(files).filter(([name]) => name !== file));

/** Commits everything, then edits a file: a dirty tree. */
async function dirtyGitTree(dir: string): Promise<void> {
  const env = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
  const git = (...args: string[]) => execa("git", args, { cwd: dir, env });
  await git("init", "-q");
  await git("add", "-A");
  await git("commit", "-qm", "app");
  writeFileSync(path.join(dir, "src/server.ts"), `${SERVER}// unsaved work\n`);
}

const CASES: BadInput[] = [
  // Usage errors, caught by the argument parser.
  // They read like the project's own errors: "error: " and the message, then "hint: " and what to do.
  { name: "unknown command", files: BASE, args: ["shard-it"], message: /^error: unknown command 'shard-it'\nhint: party-shard --help lists what it takes\.$/ },
  { name: "init: unknown flag", files: BASE, args: ["init", "--shardz", "3"], message: /^error: unknown option '--shardz'\nhint: Did you mean --shards\?$/ },
  { name: "init: --shards without a value", files: BASE, args: ["init", "--shards"], message: /^error: option '--shards <n>' argument missing\nhint: party-shard init --help lists what it takes\.$/ },
  { name: "migrate: unknown flag", files: INITIALIZED, args: ["migrate", "--shards", "3"], message: /unknown option '--shards'/ },
  { name: "check: unknown flag", files: INITIALIZED, args: ["check", "--fix"], message: /unknown option '--fix'/ },
  {
    name: "check: --format xml",
    files: INITIALIZED,
    args: ["check", "--format", "xml"],
    message: /argument 'xml' is invalid.*Allowed choices are text, github/,
  },
  { name: "verify: unknown flag", files: INITIALIZED, args: ["verify", "--port", "1999"], message: /unknown option '--port'/ },

  // Number flags.
  { name: "init: --shards 0", files: BASE, args: ["init", "--shards", "0"], message: /^error: --shards must be a whole number from 1 to 256; got "0"/ },
  { name: "init: --shards abc", files: BASE, args: ["init", "--shards", "abc"], message: /--shards must be a whole number from 1 to 256; got "abc"/ },
  { name: "init: --shards 999", files: BASE, args: ["init", "--shards", "999"], message: /--shards must be a whole number from 1 to 256; got "999"/ },
  { name: "init: --shards 2.5", files: BASE, args: ["init", "--shards", "2.5"], message: /got "2\.5"/ },
  { name: "verify: --clients 0", files: INITIALIZED, args: ["verify", "--clients", "0"], message: /--clients must be a whole number from 1 to 1000; got "0"/ },
  { name: "verify: --clients abc", files: INITIALIZED, args: ["verify", "--clients", "abc"], message: /--clients must be a whole number .*got "abc"/ },
  {
    name: "verify: --messages x",
    files: INITIALIZED,
    args: ["verify", "--messages", "x"],
    message: /--messages must be a whole number from 1 to 100000; got "x"/,
  },
  { name: "verify: --messages 0", files: INITIALIZED, args: ["verify", "--messages", "0"], message: /--messages must be a whole number .*got "0"/ },
  { name: "verify: --payload without {id} where only tokens count", files: INITIALIZED, args: ["verify", "--count", "token", "--payload", '{"type":"chat"}'], message: /--payload must contain \{id\}/ },
  { name: "verify: --payload that is broken JSON", files: INITIALIZED, args: ["verify", "--payload", '{"type":"chat","text":{id}}'], message: /--payload looks like JSON but is not/ },

  // --cwd and --config.
  { name: "init: --cwd missing", files: BASE, args: ["init", "--cwd", "nowhere"], message: /--cwd .*nowhere is not a folder/ },
  // The right party: without --party, init takes main only if it is a party's source with sockets.
  {
    name: "init: main is a build output",
    files: BUILT_MAIN,
    args: ["init"],
    message: /partykit\.json:2:3: "main" in partykit\.json is dist\/index\.js, a build output \(it is under dist\/\); init shards nothing there\.\nParties with WebSocket handlers:\n  src\/server\.ts \(built into dist\/index\.js\): onMessage\n  src\/chat\.ts \(party "chat"\): onMessage\n.*--party <file>, e\.g\. --party src\/server\.ts/,
  },
  {
    name: "init: main is a bundle beside its source map, outside dist/",
    files: { "partykit.json": `{ "main": "server.js" }\n`, "src/server.ts": SERVER, "server.js": "var a = 1;\n//# sourceMappingURL=server.js.map\n", "server.js.map": `{"sources":["src/server.ts"]}` },
    args: ["init", "--dry-run"],
    message: /"main" in partykit\.json is server\.js, a build output \(it ends with a source map comment\)[^]*  src\/server\.ts \(built into server\.js\): onMessage/,
  },
  {
    name: "init: main has no WebSocket handlers",
    files: WITH_CHAT({ "src/server.ts": "export default class Hooks {\n  static onBeforeConnect() {}\n  onRequest() {\n    return new Response();\n  }\n}\n", "src/chat.ts": CHAT_PARTY }),
    args: ["init", "--yes"],
    message: /is src\/server\.ts, a party without WebSocket handlers \(no onConnect, onMessage or onClose\)[^]*src\/chat\.ts \(party "chat"\): onMessage/,
  },
  {
    name: "init: --party a file that is no party's",
    files: { ...BASE, "src/other.ts": SERVER },
    args: ["init", "--party", "src/other.ts"],
    message: /--party src\/other\.ts is not the file of a party in partykit\.json/,
  },
  { name: "init: --cwd a file", files: BASE, args: ["init", "--cwd", "partykit.json"], message: /--cwd .*partykit\.json is not a folder/ },
  { name: "migrate: --cwd missing", files: INITIALIZED, args: ["migrate", "--cwd", "nowhere"], message: /--cwd .*nowhere is not a folder/ },
  { name: "check: --cwd a file", files: INITIALIZED, args: ["check", "--cwd", "src/server.ts"], message: /--cwd .*server\.ts is not a folder/ },
  { name: "verify: --cwd missing", files: INITIALIZED, args: ["verify", "--cwd", "nowhere"], message: /--cwd .*nowhere is not a folder/ },
  { name: "init: --config missing", files: BASE, args: ["init", "--config", "nope.json"], message: /Cannot read the PartyKit config .*nope\.json: ENOENT/ },
  {
    name: "init: --config not JSON",
    files: { ...BASE, "other.json": "main = src/server.ts\n" },
    args: ["init", "--config", "other.json"],
    message: /other\.json:1:\d+: The config does not parse/,
  },

  // Configs.
  { name: "init: no config anywhere", files: { "README.md": "hi\n" }, args: ["init"], message: /No PartyKit or PartyServer project found/ },
  {
    name: "init: no main",
    files: { ...BASE, "partykit.json": `{ "name": "x" }\n` },
    args: ["init"],
    message: /partykit\.json:1:1: partykit\.json has no "main" entry/,
  },
  {
    name: "init: main missing",
    files: { "partykit.json": CONFIG },
    args: ["init"],
    message: /partykit\.json:3:3: "main" in partykit\.json is src\/server\.ts, which does not exist/,
  },
  {
    name: "init: main a folder",
    files: { "partykit.json": CONFIG, "src/server.ts/index.ts": SERVER },
    args: ["init"],
    message: /partykit\.json:3:3: "main" in partykit\.json is src\/server\.ts, which is a folder/,
  },
  {
    name: "init: main outside the project",
    files: { "partykit.json": `{ "main": "../server.ts" }\n` },
    args: ["init"],
    message: /partykit\.json:1:3: "main" in partykit\.json is \.\.\/server\.ts, outside the project root/,
  },
  {
    name: "init: parties not a map of files",
    files: { ...BASE, "partykit.json": `{\n  "main": "src/server.ts",\n  "parties": { "chat": 3 }\n}\n` },
    args: ["init"],
    message: /partykit\.json:3:3: "parties" in partykit\.json must map party names to files/,
  },
  {
    name: "init: \"parties\" twice",
    files: { ...BASE, "partykit.json": `{\n  "main": "src/server.ts",\n  "parties": {\n    "router": "src/router.ts"\n  },\n  "name": "app",\n  "parties": {}\n}\n` },
    args: ["init"],
    message: /partykit\.json:7:3: "parties" appears twice \(lines 3 and 7\)/,
  },
  {
    name: "init: \"main\" twice",
    files: { ...BASE, "partykit.json": `{\n  "main": "src/a.ts",\n  "main": "src/server.ts"\n}\n` },
    args: ["init"],
    message: /partykit\.json:3:3: "main" appears twice \(lines 2 and 3\)/,
  },
  {
    name: "init: a party name twice",
    files: WITH_CHAT({ "partykit.json": `{\n  "main": "src/server.ts",\n  "parties": {\n    "chat": "src/a.ts",\n    "chat": "src/b.ts",\n    "chat": "src/c.ts"\n  }\n}\n` }),
    args: ["init"],
    message: /partykit\.json:5:5: "chat" appears 3 times in "parties" \(lines 4, 5 and 6\)/,
  },
  {
    name: "init: \"partykit\" twice in package.json",
    files: { "src/server.ts": SERVER, "package.json": `{\n  "partykit": { "main": "src/a.ts" },\n  "partykit": { "main": "src/server.ts" }\n}\n` },
    args: ["init", "--config", "package.json"],
    message: /package\.json:3:3: "partykit" appears twice \(lines 2 and 3\)/,
  },
  {
    name: "init: package.json without a partykit key",
    files: { "package.json": `{ "name": "x" }\n`, "src/server.ts": SERVER },
    args: ["init", "--config", "package.json"],
    message: /package\.json has no "partykit" key/,
  },

  // --party and --name.
  {
    name: "init: --party unknown",
    files: BASE,
    args: ["init", "--party", "chat"],
    message: /partykit\.json: --party chat is not a party in partykit\.json \(it has: main\)/,
  },
  {
    name: "init: --party whose file is missing",
    files: WITH_CHAT({}),
    args: ["init", "--party", "chat"],
    message: /partykit\.json:4:5: Party "chat" in partykit\.json is src\/chat\.ts, which does not exist/,
  },
  {
    name: "init: --party whose file is a folder",
    files: WITH_CHAT({ "src/chat.ts/index.ts": SERVER }),
    args: ["init", "--party", "chat"],
    message: /partykit\.json:4:5: Party "chat" .* is src\/chat\.ts, which is a folder/,
  },
  { name: "init: --name main", files: BASE, args: ["init", "--name", "main"], message: /--name main cannot be the router's party name/ },
  { name: "init: --name with a space", files: BASE, args: ["init", "--name", "my router"], message: /--name my router cannot be the router's party name/ },
  {
    name: "init: router name used by another party",
    files: { ...BASE, "partykit.json": `{\n  "main": "src/server.ts",\n  "parties": { "router": "src/other.ts" }\n}\n`, "src/other.ts": SERVER },
    args: ["init"],
    message: /partykit\.json:3:3: The party name "router" is already used by src\/other\.ts/,
  },

  // --out, and files that are not party-shard's to replace.
  {
    name: "init: --out outside the project",
    files: BASE,
    args: ["init", "--out", "../router.ts"],
    message: /The router file .*\/router\.ts is outside the project root/,
  },
  {
    name: "init: --out inside .git",
    files: { ...BASE, ".git/HEAD": "ref: refs/heads/main\n" },
    args: ["init", "--out", ".git/router.ts", "--force"],
    message: /Refusing to write \.git\/router\.ts: party-shard never writes inside \.git/,
  },
  {
    name: "init: --out inside node_modules",
    files: BASE,
    args: ["init", "--out", "node_modules/x/router.ts"],
    message: /Refusing to write node_modules\/x\/router\.ts: party-shard never writes inside node_modules/,
  },
  { name: "init: --out a folder", files: BASE, args: ["init", "--out", "src"], message: /src: src is a folder; party-shard needs to write a file there/ },
  { name: "init: --out the config, --force", files: BASE, args: ["init", "--out", "partykit.json", "--force"], message: /would replace the PartyKit config/ },
  {
    name: "init: --out package.json, --force",
    files: { ...BASE, "package.json": `{ "name": "app" }\n` },
    args: ["init", "--out", "package.json", "--force"],
    message: /The router file package\.json would replace package\.json/,
  },
  {
    name: "init: --out the party itself, --force",
    files: BASE,
    args: ["init", "--out", "src/server.ts", "--force"],
    message: /The router file src\/server\.ts would replace the file of party "main"/,
  },
  {
    name: "init: --out the runtime file",
    files: BASE,
    args: ["init", "--out", "src/party-shard-server.ts"],
    message: /would replace party-shard's server runtime/,
  },
  {
    name: "init: --out another generated file, --force",
    files: { ...BASE, "src/party-shard-client.ts": renderHelper({ routerParty: "router", mode: "package" }, packageFiles) },
    args: ["init", "--out", "src/party-shard-client.ts", "--force"],
    message: /The router file src\/party-shard-client\.ts would replace another file party-shard generated/,
  },
  {
    name: "init: --out an existing user file, --force",
    files: { ...BASE, "src/util.ts": "export const x = 1;\n" },
    args: ["init", "--out", "src/util.ts", "--force"],
    message: /src\/util\.ts already exists and party-shard did not generate it/,
  },
  {
    name: "init: a dirty git tree without --force",
    files: BASE,
    args: ["init"],
    setup: dirtyGitTree,
    message: /uncommitted changes \(src\/server\.ts\); nothing was written/,
  },

  // migrate, check and verify on a project that is not (fully) set up.
  {
    name: "migrate: without init",
    files: BASE,
    args: ["migrate"],
    message: /partykit\.json: No party-shard router in partykit\.json: run `npx party-shard init` first/,
  },
  {
    name: "migrate: the party's file missing",
    files: without(INITIALIZED, "src/server.ts"),
    args: ["migrate"],
    message: /partykit\.json:2:3: "main" in partykit\.json is src\/server\.ts, which does not exist/,
  },
  {
    name: "check: the party's file missing",
    files: without(INITIALIZED, "src/server.ts"),
    args: ["check"],
    message: /partykit\.json:2:3: "main" in partykit\.json is src\/server\.ts, which does not exist/,
  },
  { name: "verify: without init", files: BASE, args: ["verify"], message: /No party-shard router in partykit\.json/ },
  {
    name: "verify: the party's file missing",
    files: without(INITIALIZED, "src/server.ts"),
    args: ["verify"],
    message: /partykit\.json:2:3: "main" in partykit\.json is src\/server\.ts, which does not exist/,
  },
  {
    // Read for the client file it governs: a tsconfig no socket file is under is never opened.
    name: "migrate: a tsconfig that is not JSON",
    files: { ...INITIALIZED, "app/chat.ts": CLIENT, "tsconfig.json": `{\n  "compilerOptions": { "strict": true, },\n  oops\n}\n` },
    args: ["migrate"],
    message: /tsconfig\.json:3:3: Not a usable tsconfig/,
  },
  {
    name: "migrate: a user's file where the runtime goes, --force",
    files: { ...INITIALIZED, "src/party-shard-server.ts": "export {};\n" },
    args: ["migrate", "--force"],
    message: /src\/party-shard-server\.ts already exists and party-shard did not generate it/,
  },
  {
    name: "migrate: a user's file where the client helper goes, --force",
    files: { ...INITIALIZED, "app/chat.ts": CLIENT, "app/party-shard-client.ts": "export const mine = 1;\n" },
    args: ["migrate", "--force"],
    message: /app\/party-shard-client\.ts already exists and party-shard did not generate it/,
  },
];

describe("bad input: exit 2, say where and why, change nothing", { concurrency: 2 }, () => {
  it(`covers at least 40 cases`, () => assert.ok(CASES.length >= 40, `${CASES.length} cases`));

  for (const { name, files, args, message, exitCode = 2, setup } of CASES) {
    it(name, async () => {
      const dir = makeProject(files);
      try {
        await setup?.(dir);
        const before = treeHash(dir);
        const result = await runCli(args, dir);
        assert.equal(result.exitCode, exitCode, `exit code; stderr:\n${result.stderr}`);
        assert.match(result.stderr, message);
        assert.equal(treeHash(dir), before, "the project changed");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/** With --json, the same failure as one JSON object on stdout (where --json output goes), the text still on stderr. */
const JSON_CASES: { name: string; files: Record<string, string>; args: string[]; error: RegExp; hint: RegExp | null; location?: object }[] = [
  { name: "init: unknown flag", files: BASE, args: ["init", "--json", "--shardz", "3"], error: /^unknown option '--shardz'$/, hint: /^Did you mean --shards\?$/ },
  { name: "init: --shards without a value", files: BASE, args: ["init", "--json", "--shards"], error: /argument missing/, hint: /^party-shard init --help lists what it takes\.$/ },
  { name: "init: --shards abc", files: BASE, args: ["init", "--json", "--shards", "abc"], error: /^--shards must be a whole number from 1 to 256; got "abc"\.$/, hint: null },
  { name: "migrate: unknown flag", files: INITIALIZED, args: ["migrate", "--json", "--shards", "3"], error: /^unknown option '--shards'$/, hint: /migrate --help/ },
  { name: "migrate: without init", files: BASE, args: ["migrate", "--json"], error: /^No party-shard router in partykit\.json/, hint: null, location: { file: "partykit.json" } },
  { name: "check: --format xml", files: INITIALIZED, args: ["check", "--json", "--format", "xml"], error: /argument 'xml' is invalid/, hint: /check --help/ },
  { name: "check: the party's file missing", files: without(INITIALIZED, "src/server.ts"), args: ["check", "--json"], error: /which does not exist/, hint: /^Point it at the file that exports the party/, location: { file: "partykit.json", line: 2, col: 3 } },
  { name: "unknown command", files: BASE, args: ["shard-it", "--json"], error: /^unknown command 'shard-it'$/, hint: /^party-shard --help lists/ },
];

describe("bad input with --json: { summary, error, hint, location?, exitCode } on stdout, exit 2, change nothing", { concurrency: 2 }, () => {
  for (const { name, files, args, error, hint, location } of JSON_CASES) {
    it(name, async () => {
      const dir = makeProject(files);
      try {
        const before = treeHash(dir);
        const result = await runCli(args, dir);
        assert.equal(result.exitCode, 2, `exit code; stderr:\n${result.stderr}`);
        const report = JSON.parse(result.stdout) as Record<string, unknown>;
        assert.deepEqual(Object.keys(report), location ? ["summary", "error", "hint", "location", "exitCode"] : ["summary", "error", "hint", "exitCode"]);
        assert.deepEqual(report.summary, { command: commandIn(args), filesChanged: 0, next: report.hint });
        assert.match(String(report.error), error);
        if (hint) assert.match(String(report.hint), hint);
        else assert.equal(report.hint, null);
        assert.deepEqual(report.location, location);
        assert.equal(report.exitCode, 2);
        assert.match(result.stderr, /^error: /, "the text stays on stderr");
        assert.equal(treeHash(dir), before, "the project changed");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

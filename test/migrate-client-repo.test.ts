import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { ts } from "ts-morph";
import { loadConfig } from "../src/core/config/load-config.js";
import { renderRouter } from "../src/core/partykit/render-router.js";
import { planMigrate } from "../src/core/partykit/plan-migrate.js";
import { dependencyRange } from "../src/core/runtime-dependency.js";
import { disk } from "../src/infra/disk.js";
import { packageFiles } from "../src/infra/package-files.js";
import { projectReader } from "../src/infra/project-reader.js";
import { FIXTURES, REPO, makeProject, runCli, snapshotTree } from "./helpers/cli.js";
import { clientProject, migrateClient } from "./helpers/migrate-client.js";

// Client code outside the config's folder: symlinks, --client, and type-checking the repository
// fixtures (case.json in test/fixtures/migrate-client) package by package.

const PARTY = `export default class Server {
  constructor(readonly room: unknown) {}
  onMessage(message: string) {}
}
`;
const SOCKET = `import PartySocket from "partysocket";

export const socket = new PartySocket({ host: "localhost:1999", room: "lobby" });
socket.send("hello");
`;

/** PartyKit config, party and router (as init writes them) in `configDir` of a new project with `files`. */
function repository(configDir: string, files: Record<string, string>): string {
  const router = renderRouter({ shardedParty: "main", routerParty: "router", shardCount: 4, partyImport: "./server", glueImport: "./party-shard-server" }, packageFiles);
  return makeProject({
    [`${configDir}/partykit.json`]: JSON.stringify({ name: "app", main: "party/server.ts", parties: { router: "party/router.ts" } }),
    [`${configDir}/party/server.ts`]: PARTY,
    [`${configDir}/party/router.ts`]: router,
    ...files,
  });
}

async function plan(configRoot: string, clientDirs?: string[]) {
  const loaded = await loadConfig(disk, configRoot);
  return planMigrate(loaded, projectReader(loaded), { force: false, clientDirs });
}

const sites = (findings: { code: string; location?: { file: string } }[]) => findings.map((finding) => `${finding.code} ${finding.location?.file}`).sort();

describe("migrate, client half: symlinked folders", () => {
  it("follows a link inside the project once, ends a loop, and reports a link that leaves the project", async () => {
    const outside = makeProject({ "src/socket.ts": SOCKET });
    const dir = repository(".", { "packages/chat/src/socket.ts": SOCKET });
    try {
      symlinkSync("../packages/chat/src", path.join(dir, "packages", "alias"), "dir");
      symlinkSync("..", path.join(dir, "packages", "loop"), "dir");
      symlinkSync(path.join(outside, "src"), path.join(dir, "packages", "external"), "dir");

      const whole = await plan(dir);
      const clientChanges = whole.changes.map((change) => change.path).filter((file) => !file.startsWith("party/")).sort();
      assert.deepEqual(clientChanges, ["packages/chat/src/party-shard-client.ts", "packages/chat/src/socket.ts"]);
      assert.deepEqual(sites(whole.findings.filter((finding) => finding.location?.file.startsWith("packages/"))), [
        "link-outside-project packages/external",
        // No package.json anywhere to list party-shard in: said, not guessed.
        "runtime-dependency packages/chat/src/party-shard-client.ts",
        "send-rewritten packages/chat/src/socket.ts",
        "socket-routed packages/chat/src/socket.ts",
      ]);
      assert.match(whole.findings.find((finding) => finding.code === "link-outside-project")!.message, /--client /);

      // Narrowed to a folder that reaches the code only through a link: the link is followed, to the real file.
      mkdirSync(path.join(dir, "web"));
      symlinkSync("../packages/chat/src", path.join(dir, "web", "chat"), "dir");
      const narrowed = await plan(dir, [path.join(dir, "web")]);
      assert.ok(narrowed.changes.some((change) => change.path === "packages/chat/src/socket.ts" && change.after.includes("sendViaRouter(socket")));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("migrate, client half: the repository around the config", () => {
  it("scans a client beside the config's folder, and leaves out another PartyKit app, saying so", async () => {
    const dir = repository("server", {
      "package.json": JSON.stringify({ name: "app", private: true, dependencies: { partysocket: "*" } }),
      "web/src/socket.ts": SOCKET,
      "admin/partykit.json": JSON.stringify({ name: "admin", main: "src/server.ts" }),
      "admin/src/socket.ts": SOCKET,
    });
    try {
      const result = await plan(path.join(dir, "server"));
      assert.equal(result.root, realpathSync(dir));
      const clientChanges = result.changes.map((change) => change.path).filter((file) => !file.startsWith("server/")).sort();
      // The repository's package.json gains party-shard: web/ has none of its own.
      assert.deepEqual(clientChanges, ["package.json", "web/src/party-shard-client.ts", "web/src/socket.ts"]);
      assert.deepEqual(sites(result.findings.filter((finding) => !finding.location?.file.startsWith("server/"))), [
        "other-partykit-project admin/partykit.json",
        "runtime-dependency package.json",
        "send-rewritten web/src/socket.ts",
        "socket-routed web/src/socket.ts",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("migrate, client half: partysocket listed where it is used", () => {
  it("asks the package that imports partysocket to list it, not the party's package, with the repository's package manager", async () => {
    const files = {
      "package.json": JSON.stringify({ name: "acme", private: true, workspaces: ["apps/*"] }),
      "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
      "apps/party/package.json": JSON.stringify({ name: "@acme/party", dependencies: { partykit: "*" } }),
      "apps/web/package.json": JSON.stringify({ name: "@acme/web", dependencies: {} }),
      "apps/web/src/socket.ts": SOCKET,
    };
    const dir = repository("apps/party", files);
    const hoisted = repository("apps/party", { ...files, "package.json": JSON.stringify({ name: "acme", private: true, workspaces: ["apps/*"], devDependencies: { partysocket: "*" } }) });
    try {
      const missing = (await plan(path.join(dir, "apps/party"))).findings.filter((finding) => finding.code === "partysocket-missing");
      assert.deepEqual(missing.map((finding) => finding.location?.file), ["apps/web/package.json"]);
      assert.match(missing[0]!.message, /pnpm add partysocket/);
      const listed = await plan(path.join(hoisted, "apps/party"));
      assert.ok(listed.changes.some((change) => change.path === "apps/web/src/socket.ts"));
      assert.deepEqual(listed.findings.filter((finding) => finding.code === "partysocket-missing"), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(hoisted, { recursive: true, force: true });
    }
  });
});

describe("party-shard migrate and check --client (built CLI)", () => {
  it("scans only the folders named, beside the config's, and refuses one that is not a folder", async () => {
    const dir = repository("server", {
      "package.json": JSON.stringify({ name: "app", private: true, dependencies: { partysocket: "^1.3.0" } }),
      "web/src/socket.ts": SOCKET,
      "tools/bot.ts": SOCKET,
    });
    try {
      const before = snapshotTree(dir);
      const refused = await runCli(["migrate", "--yes", "--client", "nope"], path.join(dir, "server"));
      assert.equal(refused.exitCode, 2, refused.stderr);
      assert.match(refused.stderr, /--client nope is not a folder/);
      assert.deepEqual(snapshotTree(dir), before);

      const result = await runCli(["migrate", "--yes", "--json", "--client", "../web"], path.join(dir, "server"));
      assert.equal(result.exitCode, 0, result.stderr);
      const changed = (JSON.parse(result.stdout) as { changes: { path: string }[] }).changes.map((change) => change.path).sort();
      // One package.json (the repository's) lists party-shard for the server's glue and the client's helper.
      assert.deepEqual(changed, ["package.json", "server/party/party-shard-server.ts", "server/party/server.ts", "web/src/party-shard-client.ts", "web/src/socket.ts"]);
      assert.equal(JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).dependencies["party-shard"], dependencyRange(packageFiles));
      assert.match(readFileSync(path.join(dir, "web/src/socket.ts"), "utf8"), /sendViaRouter\(socket, "hello"\)/);
      assert.equal(readFileSync(path.join(dir, "tools/bot.ts"), "utf8"), SOCKET);

      // check scans what it is told to, as migrate did: the named folder is done, the repository is not.
      const narrowed = await runCli(["check", "--client", "../web"], path.join(dir, "server"));
      assert.equal(narrowed.exitCode, 0, narrowed.stdout + narrowed.stderr);
      assert.match(narrowed.stdout, /fully sharded/);
      const whole = await runCli(["check"], path.join(dir, "server"));
      assert.equal(whole.exitCode, 1, whole.stdout + whole.stderr);
      assert.match(whole.stdout, /^tools\/bot\.ts:\d+:\d+ {2}socket connects to the sharded party directly/m);
      assert.equal((await runCli(["check", "--client", "nope"], path.join(dir, "server"))).exitCode, 2);

      // Without --client the whole repository is scanned: the bot is migrated too, with its package's one helper.
      const all = await runCli(["migrate", "--yes"], path.join(dir, "server"));
      assert.equal(all.exitCode, 0, all.stderr);
      const bot = readFileSync(path.join(dir, "tools/bot.ts"), "utf8");
      assert.match(bot, /party: "router", query: shardKey\(\)/);
      assert.match(bot, /from "\.\.\/web\/src\/party-shard-client"/);
      assert.ok(!existsSync(path.join(dir, "tools/party-shard-client.ts")));
      assert.equal((await runCli(["check"], path.join(dir, "server"))).exitCode, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("migrate, client half: repository fixtures type-check package by package", () => {
  // Each package is checked with its own tsconfig, as its build would; a workspace package resolves to its source.
  const cases: Record<string, { packages: string[]; paths?: Record<string, string> }> = {
    "sibling-client": { packages: ["client"] },
    "monorepo-workspace": { packages: ["apps/web", "packages/sdk"], paths: { "@acme/sdk": "packages/sdk/src/index.ts" } },
  };
  for (const [name, { packages, paths }] of Object.entries(cases)) {
    it(`${name}: tsc --noEmit --strict in each package after migrate`, async () => {
      const fixture = path.join(FIXTURES, "migrate-client", name);
      const { config } = JSON.parse(readFileSync(path.join(fixture, "case.json"), "utf8")) as { config: string };
      const root = clientProject(path.join(fixture, "input"), true, config);
      try {
        const { changes } = await migrateClient(root, config);
        assert.ok([...changes.values()].some((text) => text.includes("sendViaRouter(")), "nothing was migrated");
        for (const [file, text] of changes) writeFileSync(path.join(root, file), text);
        for (const dir of packages) {
          const own = ts.parseConfigFileTextToJson("tsconfig.json", readFileSync(path.join(root, dir, "tsconfig.json"), "utf8")).config as { compilerOptions?: { paths?: Record<string, string[]> } };
          const extraPaths = Object.fromEntries(Object.entries(paths ?? {}).map(([specifier, file]) => [specifier, [path.relative(path.join(root, dir), path.join(root, file))]]));
          const compilerOptions = { strict: true, noEmit: true, lib: ["ES2022", "DOM"], skipLibCheck: true, types: [], baseUrl: ".", paths: { ...own.compilerOptions?.paths, ...extraPaths } };
          writeFileSync(path.join(root, dir, "tsconfig.check.json"), JSON.stringify({ extends: "./tsconfig.json", compilerOptions }));
          const tsc = await execa(path.join(REPO, "node_modules", ".bin", "tsc"), ["-p", path.join(root, dir, "tsconfig.check.json")], { reject: false });
          assert.equal(tsc.exitCode, 0, `${dir}\n${tsc.stdout}${tsc.stderr}`);
        }
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }
});

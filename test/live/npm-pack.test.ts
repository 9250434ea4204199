import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { before, describe, it } from "node:test";
import { execa } from "execa";
import { REPO } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

/**
 * The newcomer's path, end to end, as the README tells it before the package is on npm: the
 * package as `npm pack` makes it, committed under a fresh app's vendor/ and installed by a real
 * `npm install`, then a clone of the app elsewhere installed by `npm ci`, every command run
 * through `npx`. The app's party parses JSON, as
 * most do, so verify's probe must be shaped like its traffic.
 */
const PARTY = `import type * as Party from "partykit/server";

type Message = { type: string; text?: string };

export default class Chat implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onMessage(message: string, sender: Party.Connection) {
    const data = JSON.parse(message) as Message;
    if (data.type !== "message") return;
    this.room.broadcast(JSON.stringify({ from: sender.id, text: data.text }));
  }
}
`;
const CLIENT = `import PartySocket from "partysocket";

const socket = new PartySocket({ host: location.host, room: "lobby" });

export function say(text: string) {
  socket.send(JSON.stringify({ type: "message", text }));
}
`;

const installedVersion = (name: string) => (JSON.parse(readFileSync(path.join(REPO, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8")) as Record<string, any>;
const ENTRIES = ["partykit", "partyserver", "client"];

/**
 * What the tarball must hold and nothing more: the CLI (bin, dist as JavaScript and
 * declarations), the runtime's sources (what --vendor copies) and the generator's templates.
 * No source maps (their sources are not shipped), no demo, no tests or fixtures, and nothing in
 * dist/ that src/ no longer has (a stale build).
 */
function unexpectedFiles(files: string[]): string[] {
  const sources = (dir: string) => readdirSync(path.join(REPO, dir)).filter((name) => name.endsWith(".ts")).map((name) => `${dir}/${name}`);
  const runtime = new Set(sources("src/runtime"));
  const templates = new Set(readdirSync(path.join(REPO, "templates")).filter((name) => name.endsWith(".tpl")).map((name) => `templates/${name}`));
  const expected = (file: string) => {
    if (["package.json", "README.md", "LICENSE", "bin/party-shard.js"].includes(file)) return true;
    if (runtime.has(file) || templates.has(file)) return true;
    const built = /^dist\/(.+)\.(?:js|d\.ts)$/.exec(file);
    return built !== null && built[1] !== "demo" && existsSync(path.join(REPO, "src", `${built[1]}.ts`));
  };
  return files.filter((file) => !expected(file));
}

describe("npm pack → the tarball in the app's vendor/ → npm ci elsewhere → npx party-shard", () => {
  const work = tempDir("pack");
  // The app as its author set it up, and a teammate's (or CI's) clone of what was committed.
  const origin = path.join(work, "origin");
  const app = path.join(work, "clone");
  let packed: { filename: string; files: string[] };
  const npx = (...args: string[]) => execa("npx", ["--no-install", "party-shard", ...args], { cwd: app, env: { CI: "true", NO_COLOR: "1" }, stdin: "ignore", reject: false });

  before(async () => {
    // dist/ is built by `npm test` before any test runs; prepack would build it again.
    const pack = await execa("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: REPO });
    const [{ filename, files }] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
    packed = { filename, files: files.map((file) => file.path) };

    // The README's pre-publish install: the tarball committed under the app's vendor/, recorded
    // as a path inside the app, so the app installs the same on any machine.
    mkdirSync(path.join(origin, "vendor"), { recursive: true });
    mkdirSync(path.join(origin, "party"));
    mkdirSync(path.join(origin, "src"));
    renameSync(path.join(work, filename), path.join(origin, "vendor", filename));
    writeFileSync(path.join(origin, "package.json"), `${JSON.stringify({ name: "json-chat", private: true, type: "module" }, null, 2)}\n`);
    writeFileSync(path.join(origin, "partykit.json"), `{\n  "name": "json-chat",\n  "main": "party/chat.ts",\n  "compatibilityDate": "2024-01-01"\n}\n`);
    writeFileSync(path.join(origin, "party", "chat.ts"), PARTY);
    writeFileSync(path.join(origin, "src", "client.ts"), CLIENT);
    // The versions this checkout has, so npm finds them in its cache.
    const npm = (cwd: string, ...args: string[]) => execa("npm", [...args, "--prefer-offline", "--no-audit", "--no-fund"], { cwd, reject: false });
    const install = await npm(origin, "install", "--package-lock-only", "-D", `./vendor/${filename}`, `partykit@${installedVersion("partykit")}`, `partysocket@${installedVersion("partysocket")}`);
    assert.equal(install.exitCode, 0, install.stderr);
    cpSync(origin, app, { recursive: true });
    const ci = await npm(app, "ci");
    assert.equal(ci.exitCode, 0, ci.stderr);
  });

  it("packs the CLI, the runtime built and as sources, and the templates: nothing else", () => {
    assert.deepEqual(unexpectedFiles(packed.files), []);
    assert.ok(packed.files.includes("dist/cli.js"), "the tarball has the built CLI");
    assert.ok(packed.files.includes("src/runtime/leader.ts"), "the runtime modules are in the tarball (--vendor copies them)");
    assert.ok(packed.files.includes("templates/router.ts.tpl"), "the templates are in the tarball");
    const manifest = readJson(path.join(REPO, "package.json"));
    for (const target of [manifest.bin["party-shard"], ...Object.values<{ types?: string; default?: string } | string>(manifest.exports).flatMap((target) => (typeof target === "string" ? [target] : [target.types, target.default]))]) {
      if (typeof target === "string" && target !== "./package.json") assert.ok(packed.files.includes(path.posix.normalize(target)), `${target} is in the tarball`);
    }
  });

  it("records the tarball as a path inside the app, which a clone elsewhere installs with npm ci", async () => {
    const spec = `file:vendor/${packed.filename}`;
    assert.equal(readJson(path.join(app, "package.json")).devDependencies["party-shard"], spec);
    assert.equal(readJson(path.join(app, "package-lock.json")).packages["node_modules/party-shard"].resolved, spec);
    for (const entry of ENTRIES) {
      const resolved = await execa(process.execPath, ["--input-type=module", "-e", `console.log(import.meta.resolve("party-shard/${entry}"))`], { cwd: app });
      assert.equal(resolved.stdout, pathToFileURL(path.join(app, "node_modules", "party-shard", "dist", "runtime", `${entry}.js`)).href);
    }
  });

  it("runs --version from the installed package", async () => {
    const result = await npx("--version");
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout.trim(), (JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version);
  });

  it("init, migrate, check and verify an app whose party parses JSON", async () => {
    const manifest = readFileSync(path.join(app, "package.json"), "utf8");
    const init = await npx("init", "--yes");
    assert.equal(init.exitCode, 0, init.stderr);
    assert.match(init.stdout + init.stderr, /created party\/router\.ts/);
    assert.match(init.stdout + init.stderr, /Next: npx party-shard migrate/);

    // The app's party-shard (a devDependency, from the tarball) is what the generated files import; package.json stays.
    assert.equal(readFileSync(path.join(app, "package.json"), "utf8"), manifest);
    assert.match(readFileSync(path.join(app, "party", "party-shard-server.ts"), "utf8"), /from "party-shard\/partykit";$/m);
    const migrate = await npx("migrate", "--yes");
    assert.equal(migrate.exitCode, 0, migrate.stderr);
    assert.match(readFileSync(path.join(app, "src", "party-shard-client.ts"), "utf8"), /from "party-shard\/client";$/m);
    assert.equal(readFileSync(path.join(app, "package.json"), "utf8"), manifest);
    assert.match(readFileSync(path.join(app, "src", "client.ts"), "utf8"), /sendViaRouter\(socket, JSON\.stringify/);
    assert.match(readFileSync(path.join(app, "party", "chat.ts"), "utf8"), /export default sharded\(Chat\);/);

    const check = await npx("check", "--yes");
    assert.equal(check.exitCode, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /fully sharded/);

    const verify = await npx("verify", "--clients", "4", "--messages", "20", "--json");
    assert.equal(verify.exitCode, 0, verify.stdout + verify.stderr);
    const measured = JSON.parse(verify.stdout) as { ok: boolean; deliveryRatio: number; shardLoad: number[]; publishFailures: number };
    assert.equal(measured.ok, true);
    assert.equal(measured.deliveryRatio, 1);
    assert.equal(measured.publishFailures, 0);
    assert.equal(measured.shardLoad.reduce((sum, count) => sum + count, 0), 4, "every client counted on some shard");
    assert.ok(!existsSync(path.join(app, ".partykit")), "verify keeps its partykit dev state out of the project");
  });
});

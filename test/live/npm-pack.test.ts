import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { execa } from "execa";
import { REPO } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

/**
 * The newcomer's path, end to end: the package as `npm pack` makes it, installed into a fresh
 * app by a real `npm install`, every command run through `npx`. The app's party parses JSON, as
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

describe("npm pack → npm install → npx party-shard", () => {
  const work = tempDir("pack");
  const app = path.join(work, "app");
  let tarball = "";
  const npx = (...args: string[]) => execa("npx", ["--no-install", "party-shard", ...args], { cwd: app, env: { CI: "true", NO_COLOR: "1" }, stdin: "ignore", reject: false });

  before(async () => {
    // dist/ is built by `npm test` before any test runs; prepare would build it again.
    const packed = await execa("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: REPO });
    const [{ filename, files }] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    tarball = path.join(work, filename);
    assert.ok(files.some((file) => file.path === "dist/cli.js"), "the tarball has the built CLI");
    // The runtime ships built (party-shard/partykit, …) and as sources (what --vendor copies); nothing else of src/ or test/.
    assert.ok(!files.some((file) => file.path.startsWith("test/") || (file.path.startsWith("src/") && !file.path.startsWith("src/runtime/"))), "no tests or sources but the runtime in the tarball");
    assert.ok(files.some((file) => file.path === "src/runtime/leader.ts"), "the runtime modules are in the tarball");
    for (const entry of ["partykit", "partyserver", "client"]) {
      assert.ok(files.some((file) => file.path === `dist/runtime/${entry}.js`) && files.some((file) => file.path === `dist/runtime/${entry}.d.ts`), `party-shard/${entry} is in the tarball`);
    }

    mkdirSync(path.join(app, "party"), { recursive: true });
    mkdirSync(path.join(app, "src"));
    writeFileSync(path.join(app, "package.json"), `${JSON.stringify({ name: "json-chat", private: true, type: "module" }, null, 2)}\n`);
    writeFileSync(path.join(app, "partykit.json"), `{\n  "name": "json-chat",\n  "main": "party/chat.ts",\n  "compatibilityDate": "2024-01-01"\n}\n`);
    writeFileSync(path.join(app, "party", "chat.ts"), PARTY);
    writeFileSync(path.join(app, "src", "client.ts"), CLIENT);
    // The versions this checkout has, so npm finds them in its cache.
    const install = await execa(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "-D", tarball, `partykit@${installedVersion("partykit")}`, `partysocket@${installedVersion("partysocket")}`],
      { cwd: app, reject: false },
    );
    assert.equal(install.exitCode, 0, install.stderr);
  });

  it("runs --version from the installed package", async () => {
    const result = await npx("--version");
    assert.equal(result.exitCode, 0, result.stderr);
    assert.equal(result.stdout.trim(), (JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version);
  });

  it("init, migrate, check and verify an app whose party parses JSON", async () => {
    const init = await npx("init", "--yes");
    assert.equal(init.exitCode, 0, init.stderr);
    assert.match(init.stdout + init.stderr, /created party\/router\.ts/);
    assert.match(init.stdout + init.stderr, /Next: npx party-shard migrate/);

    // The app's party-shard (a devDependency, from the tarball) is what the generated files import; package.json stays.
    const manifest = readFileSync(path.join(app, "package.json"), "utf8");
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

import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { copyDemoApp, makeProject, runCli } from "../helpers/cli.js";
import { treeHash } from "../helpers/tree-hash.js";

/** package-lock.json 3 that locks each package at the version given. */
function npmLock(versions: Record<string, string>): string {
  const packages = Object.fromEntries(Object.entries(versions).map(([name, version]) => [name.includes("/node_modules/") ? name : `node_modules/${name}`, { version }]));
  return `${JSON.stringify({ name: "app", lockfileVersion: 3, requires: true, packages: { "": { name: "app" }, ...packages } }, null, 2)}\n`;
}

const PARTYSERVER_WHY =
  "party-shard needs partyserver 0.5.0 or later, because the runtime's rooms take their names from ctx.id.name, which partyserver reads from 0.5.0 on (older ones answer every router socket 500 \"Missing namespace or room headers\")";

/** The bundled PartyServer chat, its package.json listing partyserver as `range`, locked at `locked`. */
function partyServerChat(range: string, locked: string): string {
  const dir = copyDemoApp("demo-partyserver-chat");
  const manifest = path.join(dir, "package.json");
  writeFileSync(manifest, `${JSON.stringify({ name: "app", private: true, type: "module", dependencies: { partyserver: range, partysocket: "1.3.0" }, devDependencies: { wrangler: "4.86.0" } }, null, 2)}\n`);
  writeFileSync(path.join(dir, "package-lock.json"), npmLock({ partyserver: locked, partysocket: "1.3.0", wrangler: "4.86.0" }));
  return dir;
}

describe("versions: init and migrate refuse what the generated code cannot run with, check lists it", { concurrency: 2 }, () => {
  it("init on a PartyServer app locked at partyserver 0.0.66: exit 2 naming the version, its lockfile, the need and the upgrade; nothing written", async () => {
    const dir = partyServerChat("^0.0.66", "0.0.66");
    try {
      const before = treeHash(dir);
      for (const args of [["init", "--yes"], ["init", "--dry-run"]]) {
        const result = await runCli(args, dir);
        assert.equal(result.exitCode, 2, result.stderr);
        assert.equal(
          result.stderr,
          `error: package.json:6:5: partyserver 0.0.66 (package-lock.json) is too old: ${PARTYSERVER_WHY}. Upgrade it: \`npm install partyserver@^0.5.10\`.\n` +
            "hint: Upgrade it with the command above, then run `npx party-shard init` again.",
        );
      }
      assert.equal(treeHash(dir), before, "the project changed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a range that allows newer versions leaves it to the lockfile, and says so", async () => {
    const dir = partyServerChat(">=0.0.57", "0.0.57");
    try {
      const result = await runCli(["init", "--yes"], dir);
      assert.equal(result.exitCode, 2, result.stderr);
      assert.match(result.stderr, /^error: package\.json:6:5: partyserver 0\.0\.57 \(package-lock\.json; the range >=0\.0\.57 in package\.json's dependencies also allows 0\.5\.0 and later, and this is the version installed\) is too old: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("check after init lists a partyserver locked below 0.5.0 later at package.json's line, with the same words (exit 1)", async () => {
    const dir = partyServerChat("^0.5.10", "0.5.10");
    try {
      assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
      writeFileSync(path.join(dir, "package-lock.json"), npmLock({ partyserver: "0.4.1", partysocket: "1.3.0", wrangler: "4.86.0" }));
      const result = await runCli(["check"], dir);
      assert.equal(result.exitCode, 1, result.stderr);
      const line = result.stdout.split("\n").find((text) => text.includes("partyserver 0.4.1"));
      assert.equal(line, `package.json:7:5  partyserver 0.4.1 (package-lock.json) is too old: ${PARTYSERVER_WHY}. Upgrade it: \`npm install partyserver@^0.5.10\`.`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("init on a PartyKit app whose pnpm lockfile has partykit 0.0.47: the upgrade is pnpm's, as a dev dependency", async () => {
    const dir = makeProject({
      "partykit.json": `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`,
      "src/server.ts": "export default class Server {\n  onMessage() {}\n}\n",
      "package.json": `{\n  "name": "app",\n  "devDependencies": {\n    "partykit": "0.0.47"\n  }\n}\n`,
      "pnpm-lock.yaml": "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    devDependencies:\n      partykit:\n        specifier: 0.0.47\n        version: 0.0.47\n",
    });
    try {
      const before = treeHash(dir);
      const result = await runCli(["init", "--yes"], dir);
      assert.equal(result.exitCode, 2, result.stderr);
      assert.equal(
        result.stderr.split("\n")[0],
        "error: package.json:4:5: partykit 0.0.47 (pnpm-lock.yaml) is too old: party-shard needs partykit 0.0.53 or later, because the runtime and the generated router are written against partykit's Party.Room, which it has from 0.0.53 on. Upgrade it: `pnpm add -D partykit@^0.0.115`.",
      );
      assert.equal(treeHash(dir), before, "the project changed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("migrate in a monorepo whose client package locks its own partysocket 0.0.9: exit 2 naming that package, upgraded in its folder; nothing written", async () => {
    const dir = makeProject({
      "package.json": `{ "name": "acme", "private": true, "workspaces": ["apps/*"], "devDependencies": { "partykit": "^0.0.115" }, "dependencies": { "partysocket": "^1.3.0" } }\n`,
      "package-lock.json": npmLock({ partykit: "0.0.115", partysocket: "1.3.0", "apps/web/node_modules/partysocket": "0.0.9" }),
      "partykit.json": `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`,
      "src/server.ts": "export default class Server {\n  onMessage() {}\n}\n",
      "apps/web/package.json": `{\n  "name": "web",\n  "dependencies": {\n    "partysocket": "0.0.9"\n  }\n}\n`,
      "apps/web/src/main.ts": `import PartySocket from "partysocket";\n\nconst socket = new PartySocket({ host: "localhost:1999", room: "lobby" });\nexport const say = (text: string) => socket.send(text);\n`,
    });
    try {
      assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
      const before = treeHash(dir);
      const result = await runCli(["migrate", "--yes"], dir);
      assert.equal(result.exitCode, 2, result.stderr);
      assert.equal(
        result.stderr,
        "error: apps/web/package.json:4:5: partysocket 0.0.9 (package-lock.json) is too old: party-shard needs partysocket 0.0.10 or later, because shardKey() gives a socket's query values that may be null or undefined, which partysocket takes from 0.0.10 on. Upgrade it: `npm install partysocket@^1.3.0` in apps/web.\n" +
          "hint: Upgrade it with the command above, then run `npx party-shard migrate` again.",
      );
      assert.equal(treeHash(dir), before, "the project changed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a project with no lockfile, no node_modules and no range: init warns and goes on", async () => {
    const dir = makeProject({ "partykit.json": `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`, "src/server.ts": "export default class Server {\n  onMessage() {}\n}\n" });
    try {
      rmSync(path.join(dir, "node_modules"), { recursive: true, force: true });
      const result = await runCli(["init", "--yes"], dir);
      assert.equal(result.exitCode, 0, result.stderr);
      assert.match(
        result.stdout + result.stderr,
        /Cannot tell which partykit the project uses \(no lockfile entry, no node_modules\/partykit and no range in package\.json\): party-shard needs partykit 0\.0\.53 or later/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

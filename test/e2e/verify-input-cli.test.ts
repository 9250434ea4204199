import assert from "node:assert/strict";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { FIXTURES, REPO, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

/**
 * verify's bad input is refused before any dev server starts. The projects here have a stand-in
 * `partykit` (or wrangler) that only leaves a `started` file behind: its absence proves nothing
 * was started, and the one run with good input shows that it would have been.
 */
function standIn(dir: string, name: "partykit" | "wrangler", version: string): void {
  const pkg = path.join(dir, "node_modules", name);
  mkdirSync(path.join(pkg, "bin"), { recursive: true });
  writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name, version }));
  const script = name === "partykit" ? path.join(dir, "node_modules", ".bin", "partykit") : path.join(pkg, "bin", "wrangler.js");
  mkdirSync(path.dirname(script), { recursive: true });
  writeFileSync(script, name === "partykit" ? `#!/bin/sh\ntouch "$PWD/started"\nexit 1\n` : `require("node:fs").writeFileSync("started", "");\nprocess.exit(1);\n`);
  chmodSync(script, 0o755);
}

const POLL = `POST /parties/main/{room} {"title":"Lunch?","options":["pizza","sushi"]}`;

describe("party-shard verify: bad input is exit 2, nothing started", () => {
  let dir = "";
  before(async () => {
    dir = tempDir("verify-input");
    cpSync(path.join(FIXTURES, "projects", "poll"), dir, { recursive: true });
    assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
    standIn(dir, "partykit", "0.0.115");
  });

  async function refused(args: string[], expected: RegExp, cwd = dir) {
    const result = await runCli(["verify", ...args], cwd);
    assert.equal(result.exitCode, 2, result.stdout + result.stderr);
    assert.match(result.stderr, expected);
    assert.equal(existsSync(path.join(cwd, "started")), false, "a dev server was started");
    assert.doesNotMatch(result.stdout, /Starting/);
    return result;
  }

  it("a --setup that is not METHOD /parties/<party>/<room> [body], names a party the project lacks, or the router: which one and why", async () => {
    const bad = await refused(["--setup", POLL, "--setup", "post /parties/main/{room}"], /^error: --setup #2: the method must be one of GET, POST, PUT, PATCH, DELETE \(upper case\); got "post"\.\nhint: Example: --setup 'POST \/parties\/main\/\{room\}/);
    assert.doesNotMatch(bad.stderr, /#1/);
    await refused(["--setup", "POST /parties/poll/{room} {}"], /--setup #1: "poll" is not a party of this project \(parties: main, router\)/);
    await refused(["--setup", "POST /parties/router/{room}"], /name the party itself, not the router "router"/);
    await refused(["--setup", `POST /parties/main/{room} {"title":`], /--setup #1: the body looks like JSON but is not/);
    await refused(["--setup", POLL, "--setup-header", "Bearer demo"], /--setup-header #1: expected "name: value", got "Bearer demo"/);
  });

  it("party-shard.verify.json with an unknown key or a bad request, a --verify-config that is not there: the file and why", async () => {
    const config = path.join(dir, "party-shard.verify.json");
    writeFileSync(config, JSON.stringify({ setup: [POLL], counts: "any" }));
    await refused([], /^error: party-shard\.verify\.json: unknown key "counts" \(it takes setup, payload, count\)\./);
    writeFileSync(config, `{\n  // the poll must exist before votes count\n  "setup": [{ "method": "POST", "path": "/parties/mian/{room}" }]\n}\n`);
    await refused([], /party-shard\.verify\.json: setup\[0\]: "mian" is not a party of this project/);
    // Flags win over the file, but the file is still read and checked.
    await refused(["--setup", POLL], /setup\[0\]: "mian" is not a party/);
    rmSync(config);
    await refused(["--verify-config", "nowhere.json"], /--verify-config nowhere\.json: cannot read it \(ENOENT\)/);
  });

  it("--count that is not auto, token or any; a payload without {id} where only tokens count", async () => {
    await refused(["--count", "all"], /error: option '--count <what>' argument 'all' is invalid\. Allowed choices are auto, token, any\./);
    await refused(["--count", "token", "--payload", `{"type":"vote","option":0}`], /--payload must contain \{id\}/);
  });

  it("a partykit too old for verify's flags: the version found, the one needed, the upgrade for the project's package manager", async () => {
    standIn(dir, "partykit", "0.0.29");
    try {
      await refused([], /^error: partykit 0\.0\.29 is too old for verify: it needs partykit 0\.0\.114 or later \(the flags verify starts it with\)\.\nhint: Run `npm install -D partykit@latest` in /);
      writeFileSync(path.join(dir, "pnpm-lock.yaml"), "");
      await refused(["--json"], /hint: Run `pnpm add -D partykit@latest`/);
    } finally {
      rmSync(path.join(dir, "pnpm-lock.yaml"), { force: true });
      standIn(dir, "partykit", "0.0.115");
    }
  });

  it("with good input the stand-in is started (what the refusals above did not do)", async () => {
    const result = await runCli(["verify", "--setup", POLL, "--payload", `{"type":"vote","option":0}`], dir);
    assert.equal(result.exitCode, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /partykit dev exited before serving requests/);
    assert.equal(existsSync(path.join(dir, "started")), true);
    rmSync(path.join(dir, "started"));
  });

  it("a wrangler too old (PartyServer): the version found and needed", async () => {
    const app = tempDir("verify-input-partyserver");
    cpSync(path.join(REPO, "templates", "demo-partyserver-chat"), app, { recursive: true });
    const config = path.join(app, "wrangler.jsonc");
    // The router binding, as init adds it: verify gets as far as the dev server.
    writeFileSync(config, readFileSync(config, "utf8").replace(`{ "name": "Chat", "class_name": "Chat" }`, `{ "name": "Chat", "class_name": "Chat" }, { "name": "PartyShardRouter", "class_name": "PartyShardRouter" }`));
    standIn(app, "wrangler", "2.20.0");
    await refused([], /^error: wrangler 2\.20\.0 is too old for verify: it needs wrangler 3\.0\.0 or later/, app);
  });
});

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { colourEnabled, stripColour } from "../../src/ui/colour.js";
import { CLI, REPO, makeProject } from "../helpers/cli.js";

const ESC = "\x1b";
// A colour or style code; a TTY run may also erase lines, which is not colour.
const SGR = /\x1b\[[\d;]*m/;
const tiny = () => makeProject({ "partykit.json": `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`, "src/server.ts": "export default class Server {\n  onMessage() {}\n}\n" });
// --verbose: the generated router in full, for its coloured lines.
const DRY_INIT = ["init", "--dry-run", "--yes", "--verbose"];

/** The built CLI on a pipe, with only the environment given (nothing inherited from the test runner). */
function pipe(args: string[], env: Record<string, string>) {
  return execa(process.execPath, [CLI, ...args], {
    cwd: tiny(),
    env: { PATH: process.env.PATH ?? "", ...env },
    extendEnv: false,
    stdin: "ignore",
    reject: false,
  });
}

/** The built CLI on a pseudo-terminal (util-linux `script`); returns what the terminal showed. */
async function tty(args: string[], env: Record<string, string> = {}) {
  const command = [process.execPath, CLI, ...args].map((part) => `'${part}'`).join(" ");
  const result = await execa("script", ["-qfec", command, "/dev/null"], {
    cwd: tiny(),
    env: { PATH: process.env.PATH ?? "", TERM: "xterm-256color", ...env },
    extendEnv: false,
    stdin: "ignore",
    reject: false,
  });
  return result.stdout;
}

describe("when colour is on", () => {
  it("only a terminal, or FORCE_COLOR asking for it; NO_COLOR, FORCE_COLOR=0 and --no-color win", () => {
    const terminal = { isTTY: true };
    const pipe = { isTTY: false };
    assert.equal(colourEnabled(terminal, false, {}), true);
    assert.equal(colourEnabled(pipe, false, {}), false);
    assert.equal(colourEnabled(pipe, false, { CI: "true" }), false);
    assert.equal(colourEnabled(terminal, false, { TERM: "dumb" }), false);
    for (const force of ["1", "2", "3", "true"]) assert.equal(colourEnabled(pipe, false, { FORCE_COLOR: force }), true, force);
    for (const force of ["0", "false"]) assert.equal(colourEnabled(terminal, false, { FORCE_COLOR: force }), false, force);
    assert.equal(colourEnabled(terminal, false, { NO_COLOR: "1" }), false);
    assert.equal(colourEnabled(pipe, false, { NO_COLOR: "1", FORCE_COLOR: "1" }), false);
    assert.equal(colourEnabled(terminal, false, { NO_COLOR: "" }), true);
    assert.equal(colourEnabled(terminal, true, { FORCE_COLOR: "1" }), false);
  });

  it("stripColour removes colour codes and keeps other terminal controls", () => {
    assert.equal(stripColour("\x1b[32m+ line\x1b[39m \x1b[1;2mb\x1b[22m\r\x1b[2K"), "+ line b\r\x1b[2K");
  });
});

describe("colour from the built CLI", () => {
  it("a pipe under CI gets plain text on stdout and stderr", async () => {
    const ok = await pipe(DRY_INIT, { CI: "true" });
    assert.equal(ok.exitCode, 0, ok.stderr);
    assert.match(ok.stdout, /\+const SHARD_COUNT = 4;/);
    const failed = await pipe(["init", "--shards", "0"], { CI: "true" });
    assert.equal(failed.exitCode, 2);
    assert.match(failed.stderr, /^error: --shards must be/);
    assert.ok(!(ok.stdout + ok.stderr + failed.stdout + failed.stderr).includes(ESC));
  });

  it("FORCE_COLOR=1 colours a pipe, on stdout and stderr", async () => {
    const ok = await pipe(DRY_INIT, { CI: "true", FORCE_COLOR: "1" });
    assert.match(ok.stdout, /\x1b\[32m\+const SHARD_COUNT = 4;\x1b\[39m/);
    const failed = await pipe(["init", "--shards", "0"], { FORCE_COLOR: "1" });
    assert.match(failed.stderr, /\x1b\[31merror:\x1b\[39m/);
  });

  for (const [name, env, args] of [
    ["FORCE_COLOR=0", { FORCE_COLOR: "0" }, DRY_INIT],
    ["NO_COLOR=1", { NO_COLOR: "1" }, DRY_INIT],
    ["NO_COLOR=1 over FORCE_COLOR=1", { NO_COLOR: "1", FORCE_COLOR: "1" }, DRY_INIT],
    ["--no-color over FORCE_COLOR=1", { FORCE_COLOR: "1" }, [...DRY_INIT, "--no-color"]],
    ["--no-color on check", { FORCE_COLOR: "1" }, ["check", "--no-color"]],
    ["--no-color on an error", { FORCE_COLOR: "1" }, ["init", "--shards", "0", "--no-color"]],
  ] as const) {
    it(`${name} gives plain text`, async () => {
      const result = await pipe([...args], { CI: "true", ...env });
      assert.ok(result.stdout.length + result.stderr.length > 0);
      assert.ok(!(result.stdout + result.stderr).includes(ESC), JSON.stringify(result.stdout + result.stderr));
    });
  }

  it("--help of every command lists --no-color, --yes and its exit codes", async () => {
    for (const command of ["init", "migrate", "check", "verify"]) {
      const help = await pipe([command, "--help"], {});
      assert.equal(help.exitCode, 0, command);
      assert.match(help.stdout, /--no-color +plain text, no colour/, command);
      assert.match(help.stdout, /-y, --yes/, command);
      assert.match(help.stdout, /Exit codes:\n {2}0 {3}\S.*\n {2}1 {3}\S.*\n {2}2 {3}bad input/, command);
    }
  });

  const noScript = !existsSync("/usr/bin/script") && "needs util-linux script";
  it("a terminal gets colour, from party-shard and from clack", { skip: noScript }, async () => {
    const shown = await tty(DRY_INIT);
    assert.match(shown, /\x1b\[32m\+const SHARD_COUNT = 4;\x1b\[39m/);
    // clack's own step symbol (Node's styleText, which clack uses, keeps 2 colours when CI is set).
    assert.match(shown, /\x1b\[32m\S+\x1b\[39m {2}would create src\/router\.ts/);
  });

  it("a terminal with --no-color, NO_COLOR=1 or FORCE_COLOR=0 gets none", { skip: noScript }, async () => {
    for (const [args, env] of [
      [[...DRY_INIT, "--no-color"], {}],
      [DRY_INIT, { NO_COLOR: "1" }],
      [DRY_INIT, { FORCE_COLOR: "0" }],
    ] as const) {
      const shown = await tty([...args], env);
      assert.match(shown, /would create src\/router\.ts/);
      assert.doesNotMatch(shown, SGR, JSON.stringify({ args, env }));
    }
  });

  it("npm run demo under CI on a pipe is plain and says delivery 1.000", async () => {
    const demo = await execa(process.execPath, [path.join(REPO, "dist", "demo.js")], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", CI: "true" },
      extendEnv: false,
      stdin: "ignore",
      reject: false,
      all: true,
    });
    assert.equal(demo.exitCode, 0, demo.all);
    assert.match(demo.all, /delivery *1\.000/);
    assert.ok(!demo.all.includes(ESC), "the demo printed an escape code");
  });
});

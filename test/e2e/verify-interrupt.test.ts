import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { execa } from "execa";
import { CLI, copyDemoApp, runCli } from "../helpers/cli.js";

const ENV = { FORCE_COLOR: "0", NO_COLOR: "1" };
// util-linux `script` gives the CLI a terminal; Ctrl-C typed into it reaches the CLI as the terminal sends it.
const HAS_SCRIPT = process.platform === "linux" && spawnSync("script", ["--version"]).status === 0;

/** partykit dev or workerd processes still running from `dir`. */
function leftovers(dir: string): string[] {
  const ps = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout;
  return ps.split("\n").filter((line) => line.includes(dir) && /partykit|workerd/.test(line));
}

describe("verify, interrupted (built CLI, real partykit dev)", () => {
  let dir: string;
  before(async () => {
    dir = copyDemoApp();
    assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
    assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [signal, exitCode] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${signal} while publishing, no terminal: exit ${exitCode}, partykit dev stopped`, async () => {
      // Bounded: a verify that never hears the signal fails here, with its output, instead of
      // holding the file until its timeout (which leaves the copied app behind).
      const child = execa(process.execPath, [CLI, "verify", "--messages", "5000"], { cwd: dir, env: { ...ENV, CI: "true" }, stdin: "ignore", reject: false, timeout: 90_000 });
      // What it printed so far: a line may arrive in two chunks.
      let printed = "";
      child.stdout.on("data", (chunk: Buffer) => {
        const before = printed.includes("Connecting");
        printed += chunk.toString();
        if (!before && printed.includes("Connecting")) setTimeout(() => child.kill(signal), 500);
      });
      const result = await child;
      assert.equal(result.timedOut, false, `verify did not end within 90 s of ${signal}: ${result.stdout}\n${result.stderr}`);
      assert.equal(result.exitCode, exitCode, `${result.signal ?? ""} ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`Interrupted by ${signal}; partykit dev was stopped\\.`));
      assert.deepEqual(leftovers(dir), []);
    });
  }

  it("Ctrl-C on a terminal: exit 130 (the terminal is not in raw mode, so it is a SIGINT), partykit dev stopped", { skip: !HAS_SCRIPT && "needs util-linux script" }, async () => {
    const command = `${process.execPath} ${CLI} verify --messages 5000`;
    const child = execa("script", ["-qefc", command, "/dev/null"], { cwd: dir, env: ENV, reject: false, timeout: 90_000 });
    let [typed, printed] = [false, ""];
    child.stdout.on("data", (chunk: Buffer) => {
      printed += chunk.toString();
      if (typed || !printed.includes("published")) return;
      typed = true;
      // Kept open: script hangs up the terminal when its input ends.
      setTimeout(() => child.stdin.write("\x03"), 300);
    });
    const result = await child.finally(() => child.stdin.end());
    assert.equal(result.timedOut, false, `verify did not end within 90 s of Ctrl-C: ${result.stdout}`);
    assert.equal(result.exitCode, 130, result.stdout);
    assert.match(result.stdout, /Interrupted by SIGINT; partykit dev was stopped\./);
    assert.deepEqual(leftovers(dir), []);
  });
});

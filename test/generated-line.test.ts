import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { copyDemoApp, runCli } from "./helpers/cli.js";

/**
 * What a user reads before "Write N files?": the diff of their own files, and each generated
 * file as one line (hundreds of template lines would scroll their diff away).
 */
describe("generated files in the preview", () => {
  it("show as one line each; the user's own files as diffs", async () => {
    const dir = copyDemoApp();
    const result = await runCli(["init", "--dry-run"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /^\+ party\/router\.ts \(generated, \d+ lines; --verbose shows it\)$/m);
    assert.match(result.stdout, /^\+ party\/party-shard-server\.ts \(generated, \d+ lines; --verbose shows it\)$/m);
    assert.match(result.stdout, /^\+\+\+ b\/partykit\.json$/m, "the config's own diff is shown");
    assert.doesNotMatch(result.stdout, /\+\+\+ b\/party\/router\.ts/);
  });

  it("--verbose shows them in full", async () => {
    const dir = copyDemoApp();
    const result = await runCli(["init", "--dry-run", "--verbose"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    assert.match(result.stdout, /^\+\+\+ b\/party\/router\.ts$/m);
    assert.match(result.stdout, /^\+const SHARD_COUNT = 4;$/m);
  });
});

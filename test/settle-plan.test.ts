import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import picocolors from "picocolors";
import { askShards } from "../src/commands/init-intro.js";
import type { CommandContext } from "../src/commands/context.js";
import { settlePlan, type SettleOptions } from "../src/commands/settle-plan.js";
import type { Plan } from "../src/core/plan.js";
import type { Logger } from "../src/ui/logger.js";
import type { Prompts } from "../src/ui/prompts.js";
import { tempDir } from "./helpers/temp.js";

const GIT_ENV = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };

/** A terminal user's context: prompts are interactive (so the diff is shown before the question), everything printed is kept. */
function terminalContext(cwd: string, asked: string[] = []): { context: CommandContext<SettleOptions>; printed: string[] } {
  const printed: string[] = [];
  const keep = (text: string) => void printed.push(text);
  const logger: Logger = { colors: picocolors.createColors(false), info: keep, success: keep, warn: keep, error: keep, step: keep, raw: keep };
  const prompts: Prompts = {
    interactive: true,
    select: async (message, _choices, initial) => (asked.push(message), initial),
    number: async (message, initial) => (asked.push(message), initial),
    confirm: async (message) => (asked.push(message), true),
  };
  const options = { cwd, dryRun: false, yes: false, json: false, force: false, verbose: false };
  return { context: { options, logger, prompts, stdout: keep, progress: undefined }, printed };
}

describe("settlePlan on a terminal", () => {
  it("refuses a dirty git tree before it prints any diff", async () => {
    const dir = tempDir("dirty");
    writeFileSync(path.join(dir, "server.ts"), "export default {};\n");
    for (const args of [["init", "-q"], ["add", "-A"], ["commit", "-qm", "app"]]) await execa("git", args, { cwd: dir, env: GIT_ENV });
    writeFileSync(path.join(dir, "server.ts"), "export default {}; // unsaved\n");
    const plan: Plan = { root: dir, changes: [{ path: "router.ts", before: null, after: "export {};\n" }], findings: [] };
    const asked: string[] = [];
    const { context, printed } = terminalContext(dir, asked);
    await assert.rejects(settlePlan("migrate", plan, context, { platform: "partykit", next: () => "unused" }), /uncommitted changes \(server\.ts\); nothing was written/);
    assert.deepEqual(printed, [], "nothing, least of all the diff, is shown before the refusal");
    assert.deepEqual(asked, []);
  });
});

describe("init's shard question", () => {
  it("says the default and what it is based on", async () => {
    const asked: string[] = [];
    const { context } = terminalContext(tempDir("question"), asked);
    assert.equal(await askShards(context.prompts, undefined), 4);
    assert.equal(await askShards(context.prompts, 6), 6);
    assert.match(asked[0]!, /^How many shards \(1-256\)\? .*Default 4: party-shard's starting count\.$/);
    assert.match(asked[1]!, /Default 6: the router's current count, so enter changes nothing\.$/);
  });
});

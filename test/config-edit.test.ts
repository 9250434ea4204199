import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { parseConfig } from "../src/core/config/load-config.js";
import { planInit, type InitOptions } from "../src/core/partykit/plan-init.js";
import { FIXTURES } from "./helpers/cli.js";
import { memoryReader } from "./helpers/reader.js";

// Each case is test/fixtures/config-edit/<case>/{input,output}/<config file> and an optional
// args.json of init options; adding a case is adding files. UPDATE_FIXTURES=1 writes output/
// for a case that has none yet (read it before committing it).
const CASES = path.join(FIXTURES, "config-edit");
const ROOT = "/project";

/** Plans init over an in-memory project holding `files`. */
async function planOver(files: Map<string, string>, file: string, args: Partial<InitOptions>) {
  const loaded = parseConfig(ROOT, file, files.get(file)!);
  const options: InitOptions = { party: "main", shards: 4, force: false, ...args };
  // init checks that the sharded party's file exists before it plans anything.
  const partyFile = path.posix.normalize(options.party === "main" ? loaded.config.main : loaded.config.parties[options.party]!);
  if (!files.has(partyFile)) files.set(partyFile, "export default class Party {}\n");
  return planInit(loaded, options, memoryReader(files));
}

describe("init: config edit fixtures", () => {
  for (const name of readdirSync(CASES).sort()) {
    const dir = path.join(CASES, name);
    const [file] = readdirSync(path.join(dir, "input"));
    assert.ok(file, `${name} has no input file`);
    const input = readFileSync(path.join(dir, "input", file), "utf8");
    const outputFile = path.join(dir, "output", file);
    const expected = existsSync(outputFile) ? readFileSync(outputFile, "utf8") : undefined;
    const argsFile = path.join(dir, "args.json");
    const args = existsSync(argsFile) ? (JSON.parse(readFileSync(argsFile, "utf8")) as Partial<InitOptions>) : {};
    if (args.out) args.out = path.join(ROOT, args.out);

    it(`${name}: adds the router entry and nothing else`, async () => {
      const plan = await planOver(new Map([[file, input]]), file, args);
      const after = plan.changes.find((change) => change.path === file)?.after;
      if (expected === undefined && process.env.UPDATE_FIXTURES && after !== undefined) {
        mkdirSync(path.dirname(outputFile), { recursive: true });
        writeFileSync(outputFile, after);
      }
      assert.ok(expected !== undefined || process.env.UPDATE_FIXTURES, `${name} has no output/${file} (UPDATE_FIXTURES=1 writes it)`);
      assert.equal(after, expected ?? after);
    });

    it(`${name}: applying twice is applying once`, async () => {
      const files = new Map([[file, input]]);
      for (const change of (await planOver(files, file, args)).changes) files.set(change.path, change.after);
      assert.deepEqual((await planOver(files, file, args)).changes, []);
    });
  }
});

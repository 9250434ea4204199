import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { FIXTURES } from "./helpers/cli.js";
import { migrateParty } from "./helpers/migrate-server.js";
import { editedSinceGenerated } from "../src/core/render-template.js";

// test/fixtures/migrate-server/<case>/input.<ext>, output.<ext> (absent: must not change) and
// findings.txt (`level code line:col`, one a line); a tsconfig.json beside them is what the
// patched party must type-check under (migrate-server-typecheck.test.ts). UPDATE_FIXTURES=1
// writes output.<ext> and findings.txt for a case without findings.txt (read them before committing).
const CASES = path.join(FIXTURES, "migrate-server");

function readCase(name: string) {
  const dir = path.join(CASES, name);
  const input = readdirSync(dir).find((file) => file.startsWith("input."))!;
  const ext = path.extname(input);
  const text = readFileSync(path.join(dir, input), "utf8");
  const outputFile = path.join(dir, `output${ext}`);
  const expected = existsSync(outputFile) ? readFileSync(outputFile, "utf8") : text;
  const findingsFile = path.join(dir, "findings.txt");
  const findings = existsSync(findingsFile) ? readFileSync(findingsFile, "utf8").trim().split("\n").filter(Boolean) : undefined;
  return { dir, ext, text, expected, findings, changes: existsSync(outputFile) };
}

/** Records what migrate does now as a new case's expected output (UPDATE_FIXTURES=1). */
async function recordCase(fixture: ReturnType<typeof readCase>): Promise<void> {
  const result = await migrateParty(`server${fixture.ext}`, fixture.text);
  if (result.after !== fixture.text) writeFileSync(path.join(fixture.dir, `output${fixture.ext}`), result.after);
  writeFileSync(path.join(fixture.dir, "findings.txt"), result.findings.map((line) => `${line}\n`).join(""));
}

describe("migrate, server half: party fixtures", () => {
  for (const name of readdirSync(CASES).sort()) {
    const fixture = readCase(name);
    if (!fixture.findings) {
      it(`${name}: has findings.txt (UPDATE_FIXTURES=1 writes it)`, async () => {
        assert.ok(process.env.UPDATE_FIXTURES, `${name} has no findings.txt`);
        await recordCase(fixture);
      });
      continue;
    }
    it(`${name}: ${fixture.changes ? "patched as expected" : "left byte-identical"}, with its findings`, async () => {
      const result = await migrateParty(`server${fixture.ext}`, fixture.text);
      assert.equal(result.after, fixture.expected);
      assert.deepEqual(result.findings, fixture.findings);
      // Any wrapped party needs the runtime beside it: written, intact, for this router.
      if (/\bsharded\(/.test(result.after)) {
        assert.ok(result.glue, "the runtime is written");
        assert.match(result.glue, /^export const sharded: <T>/m);
        assert.match(result.glue, /^const ROUTER_PARTY = "router";$/m);
        assert.equal(editedSinceGenerated(result.glue), false);
      }
    });
    it(`${name}: applying twice is applying once`, async () => {
      const again = await migrateParty(`server${fixture.ext}`, fixture.expected);
      assert.equal(again.after, fixture.expected);
      assert.ok(!again.findings.some((finding) => finding.includes("party-patched")));
    });
  }
});

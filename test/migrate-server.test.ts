import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { FIXTURES } from "./helpers/cli.js";
import { migrateParty } from "./helpers/migrate-server.js";

// test/fixtures/migrate-server/<case>/input.<ext>, output.<ext> (absent: must not change) and
// findings.txt (`level code line:col`, one a line); a tsconfig.json beside them is what the
// patched party must type-check under (migrate-server-typecheck.test.ts).
const CASES = path.join(FIXTURES, "migrate-server");

function readCase(name: string) {
  const dir = path.join(CASES, name);
  const input = readdirSync(dir).find((file) => file.startsWith("input."))!;
  const ext = path.extname(input);
  const text = readFileSync(path.join(dir, input), "utf8");
  const outputFile = path.join(dir, `output${ext}`);
  const expected = existsSync(outputFile) ? readFileSync(outputFile, "utf8") : text;
  const findings = readFileSync(path.join(dir, "findings.txt"), "utf8").trim().split("\n").filter(Boolean);
  return { ext, text, expected, findings, changes: existsSync(outputFile) };
}

describe("migrate, server half: party fixtures", () => {
  for (const name of readdirSync(CASES).sort()) {
    const fixture = readCase(name);
    it(`${name}: ${fixture.changes ? "patched as expected" : "left byte-identical"}, with its findings`, async () => {
      const result = await migrateParty(`server${fixture.ext}`, fixture.text);
      assert.equal(result.after, fixture.expected);
      assert.deepEqual(result.findings, fixture.findings);
      assert.equal(result.glue, result.expectedGlue);
    });
    it(`${name}: applying twice is applying once`, async () => {
      const again = await migrateParty(`server${fixture.ext}`, fixture.expected);
      assert.equal(again.after, fixture.expected);
      assert.ok(!again.findings.some((finding) => finding.includes("party-patched")));
    });
  }
});

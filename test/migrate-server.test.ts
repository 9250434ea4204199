import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { FIXTURES, REPO } from "./helpers/cli.js";
import { migrateParty } from "./helpers/migrate-server.js";

// test/fixtures/migrate-server/<case>/input.<ext>, output.<ext> (absent: must not change) and
// findings.txt (`level code line:col`, one a line).
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

describe("migrate, server half: patched parties type-check with the generated glue", () => {
  it("tsc --noEmit --strict over every patched TypeScript fixture", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "party-shard-server-tsc-"));
    symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
    const files: string[] = [];
    for (const name of readdirSync(CASES)) {
      const fixture = readCase(name);
      // A file with a manual step left is not expected to compile until the step is done.
      if (fixture.ext !== ".ts" || !fixture.changes || fixture.findings.some((finding) => finding.startsWith("manual"))) continue;
      const caseDir = path.join(dir, name);
      mkdirSync(caseDir);
      const result = await migrateParty("server.ts", fixture.text);
      writeFileSync(path.join(caseDir, "server.ts"), result.after);
      writeFileSync(path.join(caseDir, "party-shard-server.ts"), result.expectedGlue);
      writeFileSync(path.join(caseDir, "format.ts"), "export const format = (message: string) => message;\n");
      files.push(`${name}/server.ts`);
    }
    assert.ok(files.length >= 8, `only ${files.length} fixtures type-checked`);
    const compilerOptions = { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", allowImportingTsExtensions: false, skipLibCheck: true, types: ["@cloudflare/workers-types"], lib: ["ES2022"], noUnusedLocals: false };
    writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files }));
    const tsc = await execa(path.join(REPO, "node_modules", ".bin", "tsc"), ["-p", dir], { reject: false });
    assert.equal(tsc.exitCode, 0, tsc.stdout + tsc.stderr);
  });
});

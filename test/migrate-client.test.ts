import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { renderHelper } from "../src/core/migrate/client/render-helper.js";
import { FIXTURES, REPO } from "./helpers/cli.js";
import { clientProject, migrateClient } from "./helpers/migrate-client.js";

// test/fixtures/migrate-client/<case>/input/<files>, output/<changed files> (none: nothing may
// change) and findings.txt (`level code file:line:col`).
const CASES = path.join(FIXTURES, "migrate-client");
const HELPER = "app/party-shard-client.ts";

function filesUnder(dir: string, prefix = ""): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(dir)) return files;
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    const relative = prefix ? `${prefix}/${entry}` : entry;
    if (statSync(full).isDirectory()) for (const [file, text] of filesUnder(full, relative)) files.set(file, text);
    else files.set(relative, readFileSync(full, "utf8"));
  }
  return files;
}

function readCase(name: string) {
  const dir = path.join(CASES, name);
  const expected = filesUnder(path.join(dir, "output"));
  const findings = readFileSync(path.join(dir, "findings.txt"), "utf8").split("\n").filter(Boolean);
  return { input: path.join(dir, "input"), expected, findings };
}

const names = readdirSync(CASES).sort();

describe("migrate, client half: fixtures", () => {
  it("has at least 20 rewriting fixtures and 8 that must not change", () => {
    const changing = names.filter((name) => readCase(name).expected.size > 0);
    const negative = names.filter((name) => name.startsWith("negative-"));
    assert.ok(changing.length >= 20, `${changing.length} rewriting fixtures`);
    assert.ok(negative.length >= 8, `${negative.length} negative fixtures`);
  });

  for (const name of names) {
    const fixture = readCase(name);
    for (const withNodeModules of [true, false]) {
      it(`${name} (${withNodeModules ? "with" : "without"} node_modules)`, async () => {
        const { changes, findings } = await migrateClient(clientProject(fixture.input, withNodeModules));
        const helper = changes.get(HELPER);
        changes.delete(HELPER);
        assert.deepEqual(changes, fixture.expected);
        assert.deepEqual(findings, fixture.findings);
        const rewrites = fixture.findings.some((finding) => finding.includes("send-rewritten"));
        assert.equal(helper, rewrites ? renderHelper({ routerParty: "router" }) : undefined);
      });
    }

    it(`${name}: applying twice is applying once`, async () => {
      const root = clientProject(fixture.input, true);
      const first = await migrateClient(root);
      for (const [file, text] of first.changes) writeFileSync(path.join(root, file), text);
      const second = await migrateClient(root);
      assert.deepEqual([...second.changes.keys()], []);
      assert.ok(!second.findings.some((finding) => / (send-rewritten|socket-routed) /.test(finding)));
    });
  }
});

describe("migrate, client half: migrated code type-checks with the generated helper", () => {
  it("tsc --noEmit --strict over every rewritten TypeScript fixture", async () => {
    // React is not installed here, so fixtures that import it are checked by the fixture test only.
    const usesReact = (name: string) => [...filesUnder(readCase(name).input).values()].some((text) => /from "react"/.test(text));
    const typed = names.filter((name) => !usesReact(name) && [...readCase(name).expected.keys()].some((file) => file.endsWith(".ts")));
    const roots = await Promise.all(
      typed.map(async (name) => {
        const root = clientProject(readCase(name).input, true);
        const { changes } = await migrateClient(root);
        for (const [file, text] of changes) writeFileSync(path.join(root, file), text);
        return root;
      }),
    );
    assert.ok(roots.length >= 15, `only ${roots.length} fixtures type-checked`);
    for (const root of roots) {
      const compilerOptions = { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022", "DOM", "DOM.Iterable"], skipLibCheck: true, types: [] };
      // A fixture's own tsconfig adds what its imports need (paths); the strict settings stay ours.
      const own = existsSync(path.join(root, "tsconfig.json")) ? (JSON.parse(readFileSync(path.join(root, "tsconfig.json"), "utf8")) as { compilerOptions?: object }) : {};
      writeFileSync(path.join(root, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...own.compilerOptions, ...compilerOptions }, include: ["app/**/*.ts"] }));
      const tsc = await execa(path.join(REPO, "node_modules", ".bin", "tsc"), ["-p", root], { reject: false });
      assert.equal(tsc.exitCode, 0, `${root}\n${tsc.stdout}${tsc.stderr}`);
    }
  });
});

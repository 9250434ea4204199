import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { FIXTURES, REPO } from "./helpers/cli.js";
import { migrateParty } from "./helpers/migrate-server.js";
import { linkNodeModules } from "../src/infra/link-node-modules.js";

const CASES = path.join(FIXTURES, "migrate-server");

/** What a fixture without a tsconfig.json of its own is checked with. */
const DEFAULT_OPTIONS = {
  strict: true,
  target: "ES2022",
  module: "ESNext",
  moduleResolution: "Bundler",
  skipLibCheck: true,
  types: ["@cloudflare/workers-types"],
  lib: ["ES2022"],
};

/** A patched party in a fixture, and the compiler options it must pass under. */
interface Patched {
  name: string;
  ext: string;
  after: string;
  options: Record<string, unknown>;
}

async function patchedFixtures(): Promise<{ patched: Patched[]; glue: string }> {
  const patched: Patched[] = [];
  let glue: string | undefined;
  for (const name of readdirSync(CASES).sort()) {
    const dir = path.join(CASES, name);
    const input = readdirSync(dir).find((file) => file.startsWith("input."))!;
    const ext = path.extname(input);
    // Unchanged inputs are the user's code as it was; a manual step left means it is not done yet.
    if (!existsSync(path.join(dir, `output${ext}`))) continue;
    const result = await migrateParty(`server${ext}`, readFileSync(path.join(dir, input), "utf8"));
    if (result.findings.some((finding) => finding.startsWith("manual"))) continue;
    const own = path.join(dir, "tsconfig.json");
    const options = existsSync(own) ? (JSON.parse(readFileSync(own, "utf8")) as { compilerOptions: Record<string, unknown> }).compilerOptions : DEFAULT_OPTIONS;
    patched.push({ name, ext, after: result.after, options });
    glue ??= result.glue;
  }
  assert.ok(glue, "migrate wrote no runtime");
  return { patched, glue };
}

// One tsc process for every fixture (`tsc -b` over one project per distinct tsconfig): each
// start costs seconds. JS parties are in too (allowJs): a type annotation in a .js file fails.
describe("migrate, server half: every patched party type-checks under its fixture's tsconfig", () => {
  it("tsc -b over the patched parties with the generated runtime", async () => {
    const { patched, glue } = await patchedFixtures();
    assert.ok(patched.length >= 20, `only ${patched.length} fixtures to type-check`);
    assert.ok(patched.some((fixture) => fixture.ext === ".js"), "no JS party among them");
    const dir = mkdtempSync(path.join(os.tmpdir(), "party-shard-server-tsc-"));
    try {
      linkNodeModules(dir, REPO);
      const projects = new Map<string, string[]>();
      for (const fixture of patched) {
        const key = JSON.stringify(fixture.options);
        const files = projects.get(key) ?? [];
        files.push(`${fixture.name}/server${fixture.ext}`);
        projects.set(key, files);
      }
      const projectDirs = [...projects].map(([key, files], index) => {
        const project = path.join(dir, `project-${index}`);
        mkdirSync(project);
        // The runtime once per project; each party imports it through a one-line re-export.
        writeFileSync(path.join(project, "party-shard-server.ts"), glue);
        const compilerOptions = { ...(JSON.parse(key) as object), noEmit: true, allowJs: true };
        writeFileSync(path.join(project, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["party-shard-server.ts", ...files] }));
        return project;
      });
      for (const fixture of patched) {
        const project = projectDirs[[...projects.keys()].indexOf(JSON.stringify(fixture.options))]!;
        const caseDir = path.join(project, fixture.name);
        mkdirSync(caseDir);
        writeFileSync(path.join(caseDir, `server${fixture.ext}`), fixture.after);
        writeFileSync(path.join(caseDir, "party-shard-server.ts"), 'export * from "../party-shard-server";\n');
        writeFileSync(path.join(caseDir, "format.ts"), "export const format = (message: string) => message;\n");
      }
      assert.ok(projectDirs.length >= 2, "no fixture brings a tsconfig of its own");
      const tsc = await execa(path.join(REPO, "node_modules", ".bin", "tsc"), ["-b", ...projectDirs], { reject: false });
      assert.equal(tsc.exitCode, 0, tsc.stdout + tsc.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

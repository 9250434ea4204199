import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { FIXTURES } from "./helpers/cli.js";
import type { LoadedWrangler } from "../src/core/config/wrangler/loaded-wrangler.js";
import { chooseClass } from "../src/core/partyserver/choose-class.js";
import { runtimeFileFor } from "../src/core/partyserver/find-setup.js";
import { planServerPartyServer } from "../src/core/partyserver/plan-server-partyserver.js";
import { loadWorkerSources } from "../src/core/partyserver/worker-sources.js";

// test/fixtures/migrate-server-partyserver/<case>/input/… (the project's source files),
// output/… (each file migrate changes, as it must read after; a file absent there must not
// change), findings.txt (`level code file:line:col`, one a line) and, optionally, case.json
// ({ "main": "src/server.js", "party": "chat", "bindings": [{ "name": "Chat", "className": "Chat" }] };
// by default main is src/server.ts, the one binding is Chat, and no --party is given). UPDATE_FIXTURES=1 writes output/ and
// findings.txt for a case without findings.txt (read them before committing).
const CASES = path.join(FIXTURES, "migrate-server-partyserver");

function readTree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (current: string) => {
    for (const entry of readdirSync(current)) {
      const full = path.join(current, entry);
      if (statSync(full).isDirectory()) walk(full);
      else files.set(path.relative(dir, full).split(path.sep).join("/"), readFileSync(full, "utf8"));
    }
  };
  if (existsSync(dir)) walk(dir);
  return files;
}

function readCase(name: string) {
  const dir = path.join(CASES, name);
  const settings = existsSync(path.join(dir, "case.json")) ? JSON.parse(readFileSync(path.join(dir, "case.json"), "utf8")) : {};
  const input = readTree(path.join(dir, "input"));
  const expected = new Map([...input, ...readTree(path.join(dir, "output"))]);
  const findingsFile = path.join(dir, "findings.txt");
  const findings = existsSync(findingsFile) ? readFileSync(findingsFile, "utf8").trim().split("\n").filter(Boolean) : undefined;
  const main = (settings.main as string | undefined) ?? "src/server.ts";
  return { dir, input, expected, findings, main, party: settings.party as string | undefined, bindings: settings.bindings ?? [{ name: "Chat", className: "Chat" }] };
}

/** Runs the server half of migrate over a case's files, in memory. */
async function migrate(fixture: ReturnType<typeof readCase>, files: Map<string, string>) {
  const loaded: LoadedWrangler = {
    platform: "partyserver",
    root: "/project",
    file: "wrangler.jsonc",
    format: "jsonc",
    text: "{}",
    main: fixture.main,
    bindings: fixture.bindings,
    envs: {},
    migrationTags: [],
    migratedClasses: [],
  };
  const sources = await loadWorkerSources(loaded, async (file) => files.get(file) ?? null);
  const chosen = chooseClass(loaded, sources, fixture.party);
  const plan = planServerPartyServer(sources, chosen, runtimeFileFor(chosen.file));
  const after = new Map(files);
  for (const change of plan.changes) after.set(change.path, change.after);
  const findings = plan.findings.map((f) => `${f.level} ${f.code} ${f.location?.file}:${f.location?.line}:${f.location?.col}`);
  return { after, changes: plan.changes, findings };
}

describe("migrate, server half on PartyServer: fixtures", () => {
  for (const name of readdirSync(CASES).sort()) {
    const fixture = readCase(name);
    if (!fixture.findings) {
      it(`${name}: has findings.txt (UPDATE_FIXTURES=1 writes it)`, async () => {
        assert.ok(process.env.UPDATE_FIXTURES, `${name} has no findings.txt`);
        const result = await migrate(fixture, fixture.input);
        for (const change of result.changes) {
          const file = path.join(fixture.dir, "output", change.path);
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, change.after);
        }
        writeFileSync(path.join(fixture.dir, "findings.txt"), result.findings.map((line) => `${line}\n`).join(""));
      });
      continue;
    }
    it(`${name}: patched as expected, with its findings`, async () => {
      const result = await migrate(fixture, fixture.input);
      assert.deepEqual(Object.fromEntries(result.after), Object.fromEntries(fixture.expected));
      assert.deepEqual(result.findings, fixture.findings);
    });
    it(`${name}: applying twice is applying once`, async () => {
      const again = await migrate(fixture, fixture.expected);
      assert.deepEqual(again.changes, []);
      assert.ok(!again.findings.some((finding) => / (class-swapped|worker-routed) /.test(finding)), again.findings.join("\n"));
    });
  }
});

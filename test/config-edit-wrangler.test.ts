import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { addRouterToWrangler, routerConfigProblems } from "../src/core/config/wrangler/add-router.js";
import { inlineArrayEdits } from "../src/core/config/wrangler/edit-toml-inline.js";
import { parseWrangler } from "../src/core/config/wrangler/load-wrangler.js";
import { routerNeeds } from "../src/core/config/wrangler/router-needs.js";
import { scanTomlLines } from "../src/core/config/wrangler/toml-lines.js";
import { verifyRouterEdit } from "../src/core/config/wrangler/verify-edit.js";
import { applyEdits } from "../src/core/text-edits.js";
import { PartyShardError } from "../src/errors.js";
import { FIXTURES } from "./helpers/cli.js";

// Each case is test/fixtures/config-edit-wrangler/<case>/input/<wrangler config> and either
// output/<same name> (the config with the router added) or error.json ({ line, message }: the
// bad-input error, exit 2, that reading or editing it must give). UPDATE_FIXTURES=1 writes
// output/ for a case that has neither yet (read it before committing it).
const CASES = path.join(FIXTURES, "config-edit-wrangler");
const ROOT = "/project";

const edit = (file: string, text: string) => addRouterToWrangler(parseWrangler(ROOT, file, text));

describe("wrangler config: router edit fixtures", () => {
  for (const name of readdirSync(CASES).sort()) {
    const dir = path.join(CASES, name);
    const [file] = readdirSync(path.join(dir, "input"));
    assert.ok(file, `${name} has no input file`);
    const input = readFileSync(path.join(dir, "input", file), "utf8");
    const outputFile = path.join(dir, "output", file);
    const errorFile = path.join(dir, "error.json");

    if (existsSync(errorFile)) {
      const expected = JSON.parse(readFileSync(errorFile, "utf8")) as { line: number; message: string };
      it(`${name}: refused as bad input at line ${expected.line}`, () => {
        assert.throws(
          () => edit(file, input),
          (error: unknown) => {
            assert.ok(error instanceof PartyShardError, `not a PartyShardError: ${String(error)}`);
            assert.equal(error.exitCode, 2);
            assert.ok(error.message.includes(expected.message), error.message);
            assert.deepEqual([error.location?.file, error.location?.line], [file, expected.line]);
            return true;
          },
        );
      });
      continue;
    }

    it(`${name}: adds the router's binding and migration and nothing else`, () => {
      const after = edit(file, input);
      if (!existsSync(outputFile) && process.env.UPDATE_FIXTURES) {
        mkdirSync(path.dirname(outputFile), { recursive: true });
        writeFileSync(outputFile, after);
      }
      assert.ok(existsSync(outputFile), `${name} has no output/${file} (UPDATE_FIXTURES=1 writes it)`);
      assert.equal(after, readFileSync(outputFile, "utf8"));
      assert.deepEqual(routerConfigProblems(parseWrangler(ROOT, file, after)), []);
    });

    it(`${name}: applying twice is applying once`, () => {
      const once = edit(file, input);
      assert.equal(edit(file, once), once);
    });
  }
});

describe("wrangler config: what check reports", () => {
  it("names each missing part with its line, per env", () => {
    const text = readFileSync(path.join(CASES, "toml-env", "input", "wrangler.toml"), "utf8");
    assert.deepEqual(routerConfigProblems(parseWrangler(ROOT, "wrangler.toml", text)), [
      { message: 'no "PartyShardRouter" binding in durable_objects.bindings: clients cannot reach the router', line: 6 },
      { message: 'env.production.durable_objects has no "PartyShardRouter" binding (an env does not inherit the top level\'s)', line: 19 },
      { message: "no migrations step creates the PartyShardRouter class (wrangler dev runs without one, a deploy needs it)", line: 10 },
    ]);
  });

  it("a binding present but no migration: only the migration", () => {
    const text = readFileSync(path.join(CASES, "only-migration-missing", "input", "wrangler.jsonc"), "utf8");
    const problems = routerConfigProblems(parseWrangler(ROOT, "wrangler.jsonc", text));
    assert.deepEqual(problems.map((problem) => problem.line), [11]);
    assert.match(problems[0]!.message, /no migrations step creates the PartyShardRouter class/);
  });

  it("a router deleted by a later migration is missing again, and an env's own migrations count for that env", () => {
    const taken = readFileSync(path.join(CASES, "tag-taken", "input", "wrangler.jsonc"), "utf8");
    assert.match(routerConfigProblems(parseWrangler(ROOT, "wrangler.jsonc", taken)).at(-1)!.message, /no migrations step/);
    const envs = readFileSync(path.join(CASES, "jsonc-env-migrations", "input", "wrangler.jsonc"), "utf8");
    const messages = routerConfigProblems(parseWrangler(ROOT, "wrangler.jsonc", envs)).map((problem) => problem.message);
    assert.equal(messages.filter((message) => message.includes("env.production.")).length, 2);
    assert.ok(!messages.some((message) => message.includes("env.staging")), messages.join("\n"));
  });

  it("the router's name bound to another class is reported, and refused as an edit", () => {
    const text = '{\n  "main": "src/server.ts",\n  "durable_objects": { "bindings": [\n    { "name": "PartyShardRouter", "class_name": "Chat" }\n  ] }\n}\n';
    const loaded = parseWrangler(ROOT, "wrangler.json", text);
    assert.deepEqual(routerConfigProblems(loaded)[0], { message: 'durable_objects binds "PartyShardRouter" to class Chat, not to the router class', line: 4 });
    assert.throws(() => addRouterToWrangler(loaded), (error: unknown) => error instanceof PartyShardError && error.exitCode === 2 && error.location?.line === 4);
  });
});

describe("wrangler config: inline TOML arrays, what is refused and what is read back", () => {
  const layout = { newline: "\n", unit: "  ", trailingCommas: false };
  const element = '{ name = "PartyShardRouter", class_name = "PartyShardRouter" }';

  it("an inline value that is not the array it should be is refused at its line, saying why", () => {
    const text = 'name = "chat"\nmain = "src/server.ts"\ndurable_objects = { bindings = "Chat" }\n';
    assert.throws(
      () => inlineArrayEdits("wrangler.toml", text, scanTomlLines(text), ["durable_objects", "bindings"], element, layout),
      (error: unknown) =>
        error instanceof PartyShardError &&
        error.exitCode === 2 &&
        error.location?.line === 3 &&
        error.message === "durable_objects.bindings is written inline at durable_objects, and its value is not an array, so party-shard cannot add to it safely.",
    );
  });

  it("a table without the array gets it as its last entry, a dotted key when it lies deeper", () => {
    const text = "env = { production = { name = \"p\" } }\n";
    const edits = inlineArrayEdits("wrangler.toml", text, scanTomlLines(text), ["env", "production", "durable_objects", "bindings"], element, layout)!;
    assert.equal(applyEdits(text, edits), `env = { production = { name = "p", durable_objects.bindings = [${element}] } }\n`);
  });

  it("an edit that loses or changes anything that was there is never returned", () => {
    const text = readFileSync(path.join(CASES, "toml-inline-multiline-comments", "input", "wrangler.toml"), "utf8");
    const loaded = parseWrangler(ROOT, "wrangler.toml", text);
    const needs = routerNeeds(loaded);
    const good = addRouterToWrangler(loaded);
    assert.doesNotThrow(() => verifyRouterEdit(loaded, needs, good));
    // The router added, but the Presence binding's class changed on the way.
    const lost = good.replace('class_name = "Presence"', 'class_name = "Chat"');
    assert.deepEqual(routerConfigProblems(parseWrangler(ROOT, "wrangler.toml", lost)), []);
    assert.throws(() => verifyRouterEdit(loaded, needs, lost), /changed what was there/);
    assert.throws(() => verifyRouterEdit(loaded, needs, `${good}compatibility_date = "2026-04-20"\n`), /changed what was there/);
  });
});

describe("wrangler config: what check reports in inline TOML arrays", () => {
  it("names each missing part at the line of its inline array or table, per env", () => {
    const text = readFileSync(path.join(CASES, "toml-inline-env-tables", "input", "wrangler.toml"), "utf8");
    const problems = routerConfigProblems(parseWrangler(ROOT, "wrangler.toml", text));
    assert.deepEqual(
      problems.map((problem) => `${problem.line} ${problem.message.split(" ").slice(0, 2).join(" ")}`),
      ["3 no \"PartyShardRouter\"", "9 env.staging.durable_objects has", "15 env.production.durable_objects has", "4 no migrations", "16 no env.production.migrations"],
    );
  });
});

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

const SRC = path.resolve(import.meta.dirname, "..", "src");

/** The TypeScript files under `src/<folder>`, as [path from src, text]. */
function sources(folder: string): [string, string][] {
  const dir = path.join(SRC, folder);
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => [path.join(folder, file).split(path.sep).join("/"), readFileSync(path.join(dir, file), "utf8")]);
}

describe("structure: what the folder names promise", () => {
  it("declares every flag once, in src/commands/flags.ts: commands compose them and add none of their own", () => {
    const declaring = sources("commands").filter(([file, text]) => file !== "commands/flags.ts" && /\.option\(|\.addOption\(|new Option\(/.test(text));
    assert.deepEqual(declaring.map(([file]) => file), []);
  });
});

describe("structure: commands never ask which platform", () => {
  it("finds no platform branch, platform name or platform module in src/commands (the adapter in src/platforms/ answers)", () => {
    const branching = /platform\s*[!=]==?|["'`](?:partykit|partyserver)["'`]|core\/partyserver\/|core\/config\/wrangler\/|platforms\/(?:partykit|partyserver)\//;
    const found = sources("commands").flatMap(([file, text]) => text.split("\n").flatMap((line, i) => (branching.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])));
    assert.deepEqual(found, []);
  });
});

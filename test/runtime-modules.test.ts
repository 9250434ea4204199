import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { REPO } from "./helpers/cli.js";

const RUNTIME = path.join(REPO, "src", "runtime");
const modules = readdirSync(RUNTIME).filter((name) => name.endsWith(".ts"));
/** Packages a runtime module may import: the platform it adapts, nothing of its own. */
const PLATFORM_PACKAGES = new Set(["partykit/server", "partyserver"]);

describe("runtime modules", () => {
  it("type-check on their own with the workers types, strict, noPropertyAccessFromIndexSignature", async () => {
    const tsc = await execa(process.execPath, [path.join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", RUNTIME], { reject: false });
    assert.equal(tsc.exitCode, 0, tsc.stdout + tsc.stderr);
  });

  it("are each readable in one sitting and import only each other and their platform", () => {
    assert.ok(modules.length >= 10, `only ${modules.length} modules`);
    for (const name of modules) {
      const text = readFileSync(path.join(RUNTIME, name), "utf8");
      const lines = text.split("\n").length;
      assert.ok(lines <= 400, `${name} has ${lines} lines`);
      assert.match(text, /^\/\*\*\n/, `${name} opens with a comment saying what it keeps`);
      for (const [, from] of text.matchAll(/^import\s[^;]*?\sfrom\s+"([^"]+)";$/gm)) {
        assert.ok(from!.startsWith("./") || PLATFORM_PACKAGES.has(from!), `${name} imports ${from}`);
      }
    }
  });
});

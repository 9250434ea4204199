import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FINDINGS, findingSpec, type FindingCode } from "../src/core/findings.js";

const codes = Object.keys(FINDINGS) as FindingCode[];

describe("the FINDINGS table", () => {
  it("gives every code at least one level, each a known one", () => {
    for (const code of codes) {
      const { levels } = findingSpec(code);
      assert.ok(levels.length > 0, code);
      for (const level of levels) assert.ok(["info", "warning", "manual"].includes(level), `${code}: ${level}`);
    }
  });

  it("makes every site migrate counts an item check reports, so the two commands agree on what migrate edits", () => {
    for (const code of codes) {
      const spec = findingSpec(code);
      if (spec.counted) assert.ok(spec.left, `${code} is counted by migrate but check does not report it as left`);
    }
  });

  it("counts and reports only sites migrate edits itself (info), never work left for the user", () => {
    for (const code of codes) {
      const spec = findingSpec(code);
      if (spec.counted || spec.left) assert.deepEqual(spec.levels, ["info"], code);
    }
  });
});

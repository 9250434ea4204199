import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { componentBlocks } from "../src/core/migrate/client/component-blocks.js";

/** Each block's code and language, as migrate reads them. */
function read(file: string, text: string) {
  const found = componentBlocks(file, text);
  return { code: found.blocks.map((block) => [text.slice(block.start, block.end), block.extension, block.line, block.col]), foreign: found.foreign.map((block) => block.language), unterminated: found.unterminated };
}

describe("component script blocks", () => {
  it("reads Svelte's module and instance scripts, not a commented-out one, an external one or JSON data; another type is named", () => {
    const text = '<script context="module" lang="ts">\nexport const a = 1;\n</script>\n<!-- <script>old()</script> -->\n<script src="x.js"></script>\n<script src="y.js" />\n<script type="application/json">{"a":1}</script>\n<script type="text/x-python">print(1)</script>\n<script data-x=">">let b = 2;</script>\n';
    assert.deepEqual(read("A.svelte", text), {
      code: [["export const a = 1;\n", "ts", 2, 1], ["let b = 2;", "js", 9, 20]],
      foreign: ["text/x-python"],
      unterminated: undefined,
    });
  });

  it("reads Astro's frontmatter and bundled scripts as TypeScript, an is:inline script as JavaScript; CRLF lines count as lines", () => {
    const text = "---\r\nconst a = 1;\r\n---\r\n<script>\r\nlet b: number;\r\n</script>\r\n<script is:inline>\r\nlet c;\r\n</script>\r\n";
    assert.deepEqual(read("P.astro", text).code, [["const a = 1;\r\n", "ts", 2, 1], ["let b: number;\r\n", "ts", 5, 1], ["let c;\r\n", "js", 8, 1]]);
  });

  it("says where an unterminated block starts; a language it does not read is named", () => {
    assert.deepEqual(read("B.vue", '<template/>\n  <script setup lang="ts">\nlet a;\n').unterminated, { line: 2, col: 3, what: "This `<script>` is never closed" });
    assert.deepEqual(read("C.astro", "---\nconst a = 1;\n").unterminated, { line: 1, col: 1, what: "The frontmatter's `---` is never closed" });
    assert.deepEqual(read("D.vue", '<script lang="coffee">\nx = 1\n</script>').foreign, ["coffee"]);
  });
});

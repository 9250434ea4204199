import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LoadedWrangler } from "../src/core/config/wrangler/loaded-wrangler.js";
import { chooseClass } from "../src/core/partyserver/choose-class.js";
import { loadWorkerSources } from "../src/core/partyserver/worker-sources.js";
import { PartyShardError } from "../src/errors.js";

/** init's choice of class over one main module, in memory: the error it stops with (exit 2). */
async function refusal(main: string, className = "LexicalDocument"): Promise<string> {
  const loaded: LoadedWrangler = { platform: "partyserver", root: "/project", file: "wrangler.jsonc", format: "jsonc", text: "{}", main: "src/server.ts", bindings: [{ name: className, className }], envs: {}, migrationTags: [], migratedClasses: [] };
  const sources = await loadWorkerSources(loaded, async (file) => (file === "src/server.ts" ? main : null));
  try {
    chooseClass(loaded, sources, undefined);
  } catch (error) {
    assert.ok(error instanceof PartyShardError && error.exitCode === 2, String(error));
    return `${error.message}\n${error.hint ?? ""}`;
  }
  return assert.fail("init chose a class");
}

describe("init's choice of the class to shard (PartyServer)", () => {
  it("a library's own class exported under the binding's name is refused with where it is and the one line that makes it the user's", async () => {
    for (const main of [
      'import { YServer } from "y-partyserver";\n\nexport { YServer as LexicalDocument };\n',
      'export { YServer as LexicalDocument } from "y-partyserver";\n',
    ]) {
      const message = await refusal(main);
      assert.match(message, /class LexicalDocument is y-partyserver's YServer itself \(src\/server\.ts:\d exports it as it is\)/, main);
      assert.match(message, /declare `export class LexicalDocument extends YServer \{\}` and run init again/);
    }
  });

  it("an export of anything else that is not a class is still just not found", async () => {
    const message = await refusal('import { Thing } from "./thing";\nexport { Thing as LexicalDocument };\n');
    assert.match(message, /class LexicalDocument is not found among the classes src\/server\.ts exports/);
  });
});

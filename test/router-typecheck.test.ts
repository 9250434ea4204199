import assert from "node:assert/strict";
import { symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { renderRouter, type RouterOptions } from "../src/core/init/render-router.js";
import { renderGlue } from "../src/core/migrate/server/render-glue.js";
import { REPO } from "./helpers/cli.js";
import { tempDir } from "./helpers/temp.js";

const OPTION_SETS: Omit<RouterOptions, "partyImport" | "glueImport">[] = [
  { shardedParty: "main", routerParty: "router", shardCount: 4 },
  { shardedParty: "chat", routerParty: "chat-router", shardCount: 1 },
  { shardedParty: "main", routerParty: "fanout", shardCount: 256 },
];

// A class party with its own static hook, and an object party, each wrapped as migrate wraps them.
const PARTIES = [
  `import type * as Party from "partykit/server";
import { sharded } from "./glue-N";
class Chat implements Party.Server {
  constructor(readonly room: Party.Room) {}
  static onBeforeConnect(req: Party.Request) {
    return req.headers.get("authorization") ? req : new Response("Unauthorized", { status: 401 });
  }
  onMessage(message: string | ArrayBuffer | ArrayBufferView, sender: Party.Connection) {
    this.room.broadcast(typeof message === "string" ? message : "binary", [sender.id]);
  }
}
export default sharded(Chat);
`,
  `import type * as Party from "partykit/server";
import { sharded } from "./glue-N";
export default sharded({
  onConnect(connection, room) {
    connection.send(room.id);
  },
} satisfies Party.PartyKitServer);
`,
];

// Ways PartyKit projects set up TypeScript: workers types only, DOM types with every strict extra,
// and the plain `lib: ["ES2022", "DOM"]` (no DOM.Iterable: Headers cannot be iterated there).
const COMPILER_OPTIONS = {
  "workers types": { types: ["@cloudflare/workers-types"], lib: ["ES2022"] },
  "dom lib without DOM.Iterable": { types: [], lib: ["ES2022", "DOM"], noPropertyAccessFromIndexSignature: true },
  "dom lib, strictest": {
    types: [],
    lib: ["ES2022", "DOM", "DOM.Iterable"],
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noImplicitReturns: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
  },
};

describe("generated router and runtime type-check against the installed partykit types", () => {
  for (const [label, extra] of Object.entries(COMPILER_OPTIONS)) {
    it(`tsc --noEmit --strict (${label}) for ${OPTION_SETS.length} option sets`, async () => {
      const dir = tempDir("tsc");
      symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"), "dir");
      const files = OPTION_SETS.map((options, i) => {
        const file = `router-${i}.ts`;
        writeFileSync(path.join(dir, file), renderRouter({ ...options, partyImport: `./party-${i}`, glueImport: `./glue-${i}` }));
        writeFileSync(path.join(dir, `glue-${i}.ts`), renderGlue(options));
        writeFileSync(path.join(dir, `party-${i}.ts`), PARTIES[i % PARTIES.length]!.replace("glue-N", `glue-${i}`));
        return file;
      });
      const compilerOptions = { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", skipLibCheck: true, ...extra };
      writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files }));
      const tsc = await execa(path.join(REPO, "node_modules", ".bin", "tsc"), ["-p", dir], { reject: false });
      assert.equal(tsc.exitCode, 0, tsc.stdout + tsc.stderr);
    });
  }
});

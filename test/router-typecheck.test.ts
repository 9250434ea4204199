import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { renderRouter, type RouterOptions } from "../src/core/partykit/render-router.js";
import { renderGlue } from "../src/core/partykit/render-glue.js";
import { VENDOR_DIR, modulesOf, vendoredChanges, type RuntimeMode } from "../src/core/runtime-files.js";
import { linkNodeModules } from "../src/infra/link-node-modules.js";
import { packageFiles } from "../src/infra/package-files.js";
import { memoryReader } from "./helpers/reader.js";
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
  // As create-next-app wrote it for years: no for…of over a Map, Set or generator in the runtime (TS2802).
  "Next.js app: target es5, node resolution, isolated modules": { types: [], target: "es5", lib: ["dom", "dom.iterable", "esnext"], moduleResolution: "node", isolatedModules: true, allowJs: true, esModuleInterop: true },
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

describe("generated router and runtime (and the client's vendored modules) type-check against the installed partykit types", () => {
  // Importing party-shard/partykit (its declarations, built from src/runtime), or the modules vendored beside the glue.
  for (const [label, { modes = ["package", "vendor"], ...extra }] of Object.entries(COMPILER_OPTIONS) as [string, Record<string, unknown> & { modes?: RuntimeMode[] }][]) {
    it(`tsc --noEmit --strict (${label}) for ${OPTION_SETS.length} option sets, with the runtime ${modes.includes("vendor") ? "from the package and vendored" : "from the package"}`, async () => {
      const dir = tempDir("tsc");
      linkNodeModules(dir, REPO);
      const files: string[] = [];
      for (const [i, options] of OPTION_SETS.entries()) {
        for (const mode of modes) {
          const name = `${i}-${mode}`;
          writeFileSync(path.join(dir, `router-${name}.ts`), renderRouter({ ...options, partyImport: `./party-${name}`, glueImport: `./glue-${name}` }, packageFiles));
          writeFileSync(path.join(dir, `glue-${name}.ts`), renderGlue({ ...options, mode }, packageFiles));
          writeFileSync(path.join(dir, `party-${name}.ts`), PARTIES[i % PARTIES.length]!.replace("glue-N", `glue-${name}`));
          files.push(`router-${name}.ts`);
        }
      }
      const vendored = (await vendoredChanges("partykit", "glue.ts", "vendor", memoryReader({}), false)).changes;
      assert.deepEqual(vendored.map((change) => path.basename(change.path, ".ts")), modulesOf("partykit", packageFiles));
      // The client's modules too: a Next.js app's browser code imports them.
      const client = (await vendoredChanges("client", "glue.ts", "vendor", memoryReader({}), false)).changes;
      mkdirSync(path.join(dir, VENDOR_DIR));
      for (const change of [...vendored, ...client]) writeFileSync(path.join(dir, change.path), change.after);
      files.push(`${VENDOR_DIR}/client.ts`);
      const compilerOptions = { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", skipLibCheck: true, ...extra };
      writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files }));
      const tsc = await execa(path.join(REPO, "node_modules", ".bin", "tsc"), ["-p", dir], { reject: false });
      assert.equal(tsc.exitCode, 0, tsc.stdout + tsc.stderr);
    });
  }
});

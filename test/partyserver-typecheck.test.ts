import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { FIXTURES, REPO } from "./helpers/cli.js";
import { tempDir } from "./helpers/temp.js";
import { loadWrangler } from "../src/core/config/wrangler/load-wrangler.js";
import type { Plan } from "../src/core/plan.js";
import { planInitPartyServer } from "../src/core/partyserver/plan-init-partyserver.js";
import { planMigratePartyServer } from "../src/core/partyserver/plan-migrate-partyserver.js";
import { renderPartyServerRuntime } from "../src/core/partyserver/render-runtime.js";
import { disk } from "../src/infra/disk.js";
import { packageFiles } from "../src/infra/package-files.js";
import { projectReader } from "../src/infra/project-reader.js";
import { linkNodeModules } from "../src/infra/link-node-modules.js";

function apply(dir: string, plan: Plan) {
  for (const change of plan.changes) {
    mkdirSync(path.dirname(path.join(dir, change.path)), { recursive: true });
    writeFileSync(path.join(dir, change.path), change.after);
  }
}

const CASES = path.join(FIXTURES, "migrate-server-partyserver");

// One tsc run (each start costs seconds) over:
// - the bundled PartyServer chat after init --vendor and migrate: the class extends Sharded<Env>, the
//   Worker calls routePartyShard with routePartykitRequest's options, main re-exports PartyShardRouter,
//   and the runtime's modules are copied into src/party-shard-runtime/;
// - every migrated fixture with no manual step left, beside the runtime generated for it: the
//   swapped classes and routePartyShard calls must fit the runtime's types as the originals fit
//   partyserver's. Strict, @cloudflare/workers-types, as the chat's own tsconfig.
describe("PartyServer code after init + migrate", () => {
  it("type-checks with the generated runtime", async () => {
    const dir = tempDir("partyserver-tsc");
    try {
      linkNodeModules(dir, REPO);
      const chat = path.join(dir, "chat");
      cpSync(path.join(REPO, "templates", "demo-partyserver-chat"), chat, { recursive: true });
      const loaded = await loadWrangler(disk, chat);
      // The chat's runtime vendored (src/party-shard-runtime/), the fixtures' from the package.
      apply(chat, await planInitPartyServer(loaded, { force: false, vendor: true }, projectReader(loaded)));
      const migrated = await loadWrangler(disk, chat);
      apply(chat, await planMigratePartyServer(migrated, projectReader(migrated), { force: false }));
      const server = readFileSync(path.join(chat, "src", "server.ts"), "utf8");
      assert.match(server, /^export class Chat extends Sharded<Env> \{$/m);
      assert.match(server, /await routePartyShard\(request, env, \{$/m);
      assert.match(server, /^export \{ PartyShardRouter \} from "\.\/party-shard-server";$/m);
      assert.ok(existsSync(path.join(chat, "src", "party-shard-runtime", "leader.ts")), "the runtime is vendored");

      const checked = ["chat"];
      for (const name of readdirSync(CASES).sort()) {
        const findings = readFileSync(path.join(CASES, name, "findings.txt"), "utf8");
        if (/^manual /m.test(findings)) continue;
        cpSync(path.join(CASES, name, "input"), path.join(dir, name), { recursive: true });
        if (existsSync(path.join(CASES, name, "output"))) cpSync(path.join(CASES, name, "output"), path.join(dir, name), { recursive: true });
        const runtime = path.join(dir, name, "src", "party-shard-server.ts");
        mkdirSync(path.dirname(runtime), { recursive: true });
        writeFileSync(runtime, renderPartyServerRuntime({ shardedBinding: "Chat", shardCount: 4, mode: "package" }, packageFiles));
        checked.push(name);
      }
      assert.ok(checked.length >= 7, `only ${checked.length} projects to type-check`);
      const compilerOptions = { strict: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022"], types: ["@cloudflare/workers-types"], skipLibCheck: true, allowJs: true, noEmit: true };
      writeFileSync(path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, include: checked.map((name) => `${name}/src`) }));
      // The vendored runtime alone under target es5 (a Next.js-style tsconfig): no private
      // identifiers (#x), which es5 cannot have. The chat's own code is left out: its spreads of
      // getConnections() are its own es5 errors, not ours.
      const es5 = { ...compilerOptions, target: "es5", lib: ["esnext"] };
      writeFileSync(path.join(dir, "tsconfig.es5.json"), JSON.stringify({ compilerOptions: es5, include: ["chat/src/party-shard-runtime", "chat/src/party-shard-server.ts"] }));
      const tsc = (config: string) => execa(process.execPath, [path.join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", path.join(dir, config)], { reject: false });
      for (const result of await Promise.all([tsc("tsconfig.json"), tsc("tsconfig.es5.json")])) assert.equal(result.exitCode, 0, result.stdout + result.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

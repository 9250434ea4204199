import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { modulesOf } from "../../src/core/runtime-files.js";
import { dependencyRange } from "../../src/core/runtime-dependency.js";
import { packageFiles } from "../../src/infra/package-files.js";
import { copyDemoApp, runCli, snapshotTree } from "../helpers/cli.js";

const MANIFEST = `${JSON.stringify({ name: "chat", private: true, devDependencies: { partykit: "^0.0.115" }, dependencies: { partysocket: "^1.3.0" } }, null, 2)}\n`;

/** The bundled chat with a package.json, as an installed app has. */
function app(): string {
  const dir = copyDemoApp();
  writeFileSync(path.join(dir, "package.json"), MANIFEST);
  return dir;
}

const read = (dir: string, file: string) => readFileSync(path.join(dir, file), "utf8");
const dependency = (dir: string) => (JSON.parse(read(dir, "package.json")) as { dependencies: Record<string, string> }).dependencies["party-shard"];

describe("the runtime from the party-shard package, or vendored with --vendor (built CLI)", () => {
  it("by default: generated files import party-shard/…, and package.json gains the dependency once", async () => {
    const dir = app();
    const init = await runCli(["init", "--yes"], dir);
    assert.equal(init.exitCode, 0, init.stderr);
    assert.match(read(dir, "party/party-shard-server.ts"), /^import \{ partykitRuntime \} from "party-shard\/partykit";$/m);
    assert.equal(dependency(dir), dependencyRange(packageFiles));
    assert.match(init.stdout, /Added party-shard \^[\d.]+ to package\.json's dependencies: party\/party-shard-server\.ts imports the runtime from it\. Then run: npm install/);
    const migrate = await runCli(["migrate", "--yes"], dir);
    assert.equal(migrate.exitCode, 0, migrate.stderr);
    assert.match(read(dir, "app/party-shard-client.ts"), /^import \{ routerClient \} from "party-shard\/client";$/m);
    // The generated files are the names and the wrapper lines; the runtime stays in the package.
    for (const file of ["party/party-shard-server.ts", "app/party-shard-client.ts"]) assert.ok(read(dir, file).split("\n").length < 50, file);
    assert.equal((await runCli(["check"], dir)).exitCode, 0);
  });

  it("--vendor copies the modules beside the generated files, keeps package.json, and a later run keeps vendoring", async () => {
    const dir = app();
    const init = await runCli(["init", "--yes", "--vendor"], dir);
    assert.equal(init.exitCode, 0, init.stderr);
    assert.match(read(dir, "party/party-shard-server.ts"), /from "\.\/party-shard-runtime\/partykit\.js";$/m);
    assert.deepEqual(readdirSync(path.join(dir, "party", "party-shard-runtime")).sort(), modulesOf("partykit", packageFiles).map((name) => `${name}.ts`).sort());
    // Without the flag, migrate vendors the client's runtime too, as the server's is.
    assert.equal((await runCli(["migrate", "--yes"], dir)).exitCode, 0);
    assert.match(read(dir, "app/party-shard-client.ts"), /from "\.\/party-shard-runtime\/client\.js";$/m);
    assert.deepEqual(readdirSync(path.join(dir, "app", "party-shard-runtime")).sort(), modulesOf("client", packageFiles).map((name) => `${name}.ts`).sort());
    assert.equal(read(dir, "package.json"), MANIFEST);
    assert.equal((await runCli(["check"], dir)).exitCode, 0);

    // A vendored module edited by hand is the user's: kept unless --force.
    const leader = path.join(dir, "party", "party-shard-runtime", "leader.ts");
    writeFileSync(leader, `${read(dir, "party/party-shard-runtime/leader.ts")}// tuned\n`);
    const before = snapshotTree(dir);
    const refused = await runCli(["init", "--yes"], dir);
    assert.equal(refused.exitCode, 2);
    assert.match(refused.stderr, /party\/party-shard-runtime\/leader\.ts was edited since party-shard generated it/);
    assert.deepEqual(snapshotTree(dir), before);
    assert.equal((await runCli(["init", "--yes", "--force"], dir)).exitCode, 0);
    assert.doesNotMatch(read(dir, "party/party-shard-runtime/leader.ts"), /\/\/ tuned/);
  });

  it("--no-vendor goes back to the package: imports rewritten, package.json gains party-shard", async () => {
    const dir = app();
    for (const args of [["init", "--yes", "--vendor"], ["migrate", "--yes"]]) assert.equal((await runCli(args, dir)).exitCode, 0);
    const back = await runCli(["migrate", "--yes", "--no-vendor"], dir);
    assert.equal(back.exitCode, 0, back.stderr);
    for (const folder of ["party", "app"]) assert.match(back.stdout, new RegExp(`the copies in ${folder}/party-shard-runtime/ are no longer used\\. Delete that folder\\.`));
    assert.match(read(dir, "party/party-shard-server.ts"), /from "party-shard\/partykit";$/m);
    assert.match(read(dir, "app/party-shard-client.ts"), /from "party-shard\/client";$/m);
    assert.equal(dependency(dir), dependencyRange(packageFiles));
    assert.equal((await runCli(["check"], dir)).exitCode, 0);
  });
});

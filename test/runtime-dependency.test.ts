import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FileChange } from "../src/core/plan.js";
import { dependencyRange, withRuntimeDependency } from "../src/core/runtime-dependency.js";
import { chooseRuntimeMode, modulesOf, runtimeModeOf, vendoredChanges } from "../src/core/runtime-files.js";
import { editedSinceGenerated } from "../src/core/render-template.js";
import { isGeneratedFile } from "../src/core/generated-file.js";
import { packageFiles } from "../src/infra/package-files.js";
import { memoryReader } from "./helpers/reader.js";

const reader = memoryReader;
const DEPENDENCY_RANGE = dependencyRange(packageFiles);
const GLUE: FileChange = { path: "party/party-shard-server.ts", before: null, after: 'import { partykitRuntime } from "party-shard/partykit";\n', generated: true };

describe("party-shard added to the package.json of each generated file that imports it", () => {
  it("adds it to dependencies in npm's order, keeping the file's indentation, line endings and final newline", async () => {
    const before = '{\r\n    "name": "app",\r\n    "dependencies": {\r\n        "zod": "^3.0.0",\r\n        "partykit": "^0.0.115"\r\n    }\r\n}\r\n';
    const { changes, findings } = await withRuntimeDependency([GLUE], [GLUE.path], reader({ "package.json": before }), "/project");
    const manifest = changes.find((change) => change.path === "package.json")!;
    assert.equal(manifest.before, before);
    assert.equal(manifest.after, '{\r\n    "name": "app",\r\n    "dependencies": {\r\n        "party-shard": "' + DEPENDENCY_RANGE + '",\r\n        "partykit": "^0.0.115",\r\n        "zod": "^3.0.0"\r\n    }\r\n}\r\n');
    assert.deepEqual(findings.map((finding) => [finding.level, finding.code, finding.location?.file]), [["info", "runtime-dependency", "package.json"]]);
    assert.match(findings[0]!.message, /Then run: npm install$/);
  });

  it("creates dependencies when there is none, and leaves a package that lists it in any field as it is", async () => {
    const bare = await withRuntimeDependency([], [GLUE.path], reader({ "package.json": '{"name":"app"}' }), "/project");
    assert.deepEqual(JSON.parse(bare.changes[0]!.after), { name: "app", dependencies: { "party-shard": DEPENDENCY_RANGE } });
    // Any spec counts: the README's pre-publish install records the tarball in the app's vendor/.
    for (const spec of ["file:vendor/party-shard-0.1.0.tgz", "file:../party-shard", "^0.0.1"]) {
      for (const field of ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"]) {
        const listed = await withRuntimeDependency([], [GLUE.path], reader({ "package.json": JSON.stringify({ [field]: { "party-shard": spec } }) }), "/project");
        assert.deepEqual(listed, { changes: [], findings: [] }, `${field}: ${spec}`);
      }
    }
  });

  it("takes the nearest package.json of each file: one change per package, once however many files it has", async () => {
    const files = { "package.json": '{"name":"repo"}\n', "apps/web/package.json": '{"name":"web"}\n' };
    const importers = ["apps/web/src/party-shard-client.ts", "apps/web/lib/party-shard-client.ts", "server/party/party-shard-server.ts"];
    const { changes } = await withRuntimeDependency([], importers, reader(files), "/project");
    assert.deepEqual(changes.map((change) => change.path).sort(), ["apps/web/package.json", "package.json"]);
  });

  it("builds on a change the plan already makes to that package.json (PartyKit's config can live in it)", async () => {
    const config: FileChange = { path: "package.json", before: '{"partykit":{}}', after: '{"partykit":{"parties":{"router":"party/router.ts"}}}' };
    const { changes } = await withRuntimeDependency([config, GLUE], [GLUE.path], reader({ "package.json": config.before! }), "/project");
    const manifest = changes.filter((change) => change.path === "package.json");
    assert.equal(manifest.length, 1);
    assert.equal(manifest[0]!.before, config.before);
    assert.deepEqual(JSON.parse(manifest[0]!.after), { partykit: { parties: { router: "party/router.ts" } }, dependencies: { "party-shard": DEPENDENCY_RANGE } });
  });

  it("says what to do, and changes nothing, where package.json is not a JSON object or there is none", async () => {
    for (const text of ["{ nope", "[]", '{"dependencies": []}']) {
      const { changes, findings } = await withRuntimeDependency([], [GLUE.path], reader({ "package.json": text }), "/project");
      assert.deepEqual(changes, [], text);
      assert.deepEqual(findings.map((finding) => finding.level), ["manual"], text);
      assert.match(findings[0]!.message, /Add "party-shard": "\^/);
    }
    const none = await withRuntimeDependency([GLUE], [GLUE.path], reader({}), "/project");
    assert.deepEqual(none.changes, [GLUE]);
    assert.deepEqual(none.findings.map((finding) => finding.level), ["info"]);
    assert.match(none.findings[0]!.message, /--vendor/);
    // Said once, when the file is written, not on every later run.
    assert.deepEqual(await withRuntimeDependency([], [GLUE.path], reader({}), "/project"), { changes: [], findings: [] });
  });
});

describe("the runtime imported from the package, or vendored", () => {
  it("takes --vendor/--no-vendor, else what the file does now, else the package", () => {
    const vendored = 'import { partykitRuntime } from "./party-shard-runtime/partykit.js";\n';
    const packaged = 'import { partykitRuntime } from "party-shard/partykit";\n';
    assert.equal(runtimeModeOf(vendored), "vendor");
    assert.equal(runtimeModeOf(packaged), "package");
    assert.equal(runtimeModeOf("const inline = 1;\n"), undefined);
    assert.equal(chooseRuntimeMode(undefined, vendored), "vendor");
    assert.equal(chooseRuntimeMode(undefined, null), "package");
    assert.equal(chooseRuntimeMode(false, vendored), "package");
    assert.equal(chooseRuntimeMode(true, packaged), "vendor");
  });

  it("vendors each module an entry needs, once, as a generated file under ~400 lines that imports only its neighbours and its platform", async () => {
    for (const [entry, platform] of [["partykit", "partykit/server"], ["partyserver", "partyserver"], ["client", undefined]] as const) {
      const { changes } = await vendoredChanges(entry, "src/party-shard-server.ts", "vendor", reader({}), false);
      assert.deepEqual(changes.map((change) => change.path), modulesOf(entry, packageFiles).map((name) => `src/party-shard-runtime/${name}.ts`));
      assert.ok(modulesOf(entry, packageFiles).includes("protocol"));
      for (const change of changes) {
        assert.ok(isGeneratedFile(change.after) && !editedSinceGenerated(change.after), change.path);
        assert.ok(change.after.split("\n").length <= 405, `${change.path} has ${change.after.split("\n").length} lines`);
        for (const [, from] of change.after.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s+"([^"]+)";$/gm)) {
          assert.ok(/^\.\/[\w-]+\.js$/.test(from!) || from === platform, `${change.path} imports ${from}`);
        }
      }
    }
    // The client needs none of the server's modules.
    assert.deepEqual(modulesOf("client", packageFiles), ["batch", "client", "client-writes", "protocol", "write-memory"]);
    assert.deepEqual(await vendoredChanges("client", "src/party-shard-client.ts", "package", reader({}), false), { changes: [], findings: [] });
  });

  it("back on the package, points out the copies an earlier --vendor left (party-shard deletes nothing); a file of the user's there is not ours to mention", async () => {
    const copy = (await vendoredChanges("client", "src/party-shard-client.ts", "vendor", reader({}), false)).changes.find((change) => change.path.endsWith("/client.ts"))!;
    const left = await vendoredChanges("client", "src/party-shard-client.ts", "package", reader({ [copy.path]: copy.after }), false);
    assert.deepEqual(left.changes, []);
    assert.deepEqual(left.findings.map((finding) => [finding.level, finding.code, finding.location?.file]), [["info", "vendored-runtime-unused", "src/party-shard-runtime"]]);
    const mine = await vendoredChanges("client", "src/party-shard-client.ts", "package", reader({ [copy.path]: "export const mine = 1;\n" }), false);
    assert.deepEqual(mine, { changes: [], findings: [] });
  });
});

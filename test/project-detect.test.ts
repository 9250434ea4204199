import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { parseFlags } from "../src/commands/flags.js";
import { loadProject } from "../src/platforms/load-project.js";
import { PartyShardError } from "../src/errors.js";
import { makeProject } from "./helpers/cli.js";

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function project(files: Record<string, string>): string {
  const dir = makeProject(files);
  made.push(dir);
  return dir;
}

const PARTYKIT = { "partykit.json": '{ "name": "chat", "main": "src/server.ts" }\n', "src/server.ts": "export default class Chat {}\n" };
const WRANGLER = { "wrangler.jsonc": '{\n  // the Worker\n  "main": "src/worker.ts",\n  "durable_objects": { "bindings": [{ "name": "Chat", "class_name": "Chat" }] }\n}\n' };
const PARTYSERVER = { ...WRANGLER, "package.json": '{ "dependencies": { "partyserver": "0.5.10" } }\n', "src/worker.ts": "export {};\n" };

/** Asserts that `promise` fails as bad input (exit 2) and returns the message and hint. */
async function badInput(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail("expected a bad-input error"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof PartyShardError, String(error));
  assert.equal(error.exitCode, 2);
  return `${error.message}\n${error.hint ?? ""}`;
}

describe("project detection", () => {
  it("a PartyKit config alone is PartyKit", async () => {
    const found = await loadProject(project(PARTYKIT));
    assert.equal(found.platform, "partykit");
    assert.equal(found.platform === "partykit" && found.config.config.main, "src/server.ts");
  });

  it("a wrangler config whose package.json depends on partyserver is PartyServer, found from a subfolder", async () => {
    const dir = project(PARTYSERVER);
    const found = await loadProject(path.join(dir, "src"));
    assert.equal(found.platform, "partyserver");
    assert.equal(found.config.root, dir);
    assert.equal(found.config.file, "wrangler.jsonc");
    assert.equal(found.platform === "partyserver" && found.config.bindings[0]?.className, "Chat");
  });

  it("a wrangler.toml whose main imports partyserver is PartyServer without the dependency listed", async () => {
    const dir = project({
      "wrangler.toml": 'main = "src/worker.ts"\n',
      "package.json": '{ "name": "x" }\n',
      "src/worker.ts": 'import { routePartykitRequest } from "partyserver";\nexport default { fetch: () => new Response() };\n',
    });
    const found = await loadProject(dir);
    assert.deepEqual([found.platform, found.config.file], ["partyserver", "wrangler.toml"]);
  });

  it("a monorepo app whose own package.json lists none is PartyServer by its main's imports: y-partyserver, or the runtime migrate put there", async () => {
    for (const main of ['import { YServer } from "y-partyserver";\nexport { YServer as Doc };\n', 'import { routePartyShard, shardedServer } from "./party-shard-server";\nexport {};\n']) {
      const dir = project({ ...WRANGLER, "package.json": '{ "name": "fixture" }\n', "src/worker.ts": main });
      assert.equal((await loadProject(dir)).platform, "partyserver", main);
    }
  });

  it("partykit listed only as a dependency in package.json is not a PartyKit config", async () => {
    const dir = project({ ...PARTYSERVER, "package.json": '{ "dependencies": { "partyserver": "0.5.10" }, "devDependencies": { "partykit": "0.0.115" } }\n' });
    assert.equal((await loadProject(dir)).platform, "partyserver");
  });

  it("both is bad input naming both files and the way out", async () => {
    const dir = project({ ...PARTYKIT, ...PARTYSERVER });
    const message = await badInput(loadProject(dir));
    assert.match(message, /partykit\.json/);
    assert.match(message, /wrangler\.jsonc/);
    assert.match(message, /--platform partykit or --platform partyserver/);
  });

  it("neither is bad input; a wrangler config without partyserver is named as the reason", async () => {
    assert.match(await badInput(loadProject(project({ "README.md": "hi\n" }))), /No PartyKit or PartyServer project found/);
    const message = await badInput(loadProject(project({ ...WRANGLER, "package.json": "{}\n", "src/worker.ts": "export {};\n" })));
    assert.match(message, /wrangler\.jsonc was found, but neither its package\.json nor its main module uses partyserver/);
  });

  it("--platform breaks the tie", async () => {
    const dir = project({ ...PARTYKIT, ...PARTYSERVER });
    assert.equal((await loadProject(dir, { platform: "partykit" })).platform, "partykit");
    assert.equal((await loadProject(dir, { platform: "partyserver" })).platform, "partyserver");
  });

  it("--config wrangler.toml means PartyServer, even beside partykit.json; a contradicting --platform is bad input", async () => {
    const dir = project({ ...PARTYKIT, "wrangler.toml": 'main = "src/server.ts"\n' });
    const found = await loadProject(dir, { config: "wrangler.toml" });
    assert.deepEqual([found.platform, found.config.file], ["partyserver", "wrangler.toml"]);
    assert.equal((await loadProject(dir, { config: "partykit.json" })).platform, "partykit");
    assert.match(await badInput(loadProject(dir, { config: "wrangler.toml", platform: "partykit" })), /--config wrangler\.toml is not a PartyKit config/);
  });

  it("--platform partyserver reports what is wrong with a wrangler config that detection passed over", async () => {
    const dir = project({ "wrangler.toml": 'main = "src/worker.ts"\n[durable_objects\n' });
    assert.match(await badInput(loadProject(dir)), /No PartyKit or PartyServer project found/);
    assert.match(await badInput(loadProject(dir, { platform: "partyserver" })), /wrangler\.toml does not parse/);
  });

  it("--platform takes partykit or partyserver; anything else is bad input", () => {
    assert.equal(parseFlags(["cwd", "platform"], { platform: "partyserver" }).platform, "partyserver");
    assert.equal(parseFlags(["cwd", "platform"], {}).platform, undefined);
    assert.throws(() => parseFlags(["cwd", "platform"], { platform: "cloudflare" }), (error: unknown) => error instanceof PartyShardError && error.exitCode === 2 && /--platform must be partykit or partyserver; got "cloudflare"/.test(error.message));
  });
});

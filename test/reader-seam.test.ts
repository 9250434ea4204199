import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import type { InitPlan } from "../src/core/plan.js";
import { openProject } from "../src/platforms/index.js";
import { makeProject } from "./helpers/cli.js";
import { memoryDisk } from "./helpers/reader.js";

/** A lockfile too: the versions init reads come from it on disk and in memory alike (a project on disk also has node_modules). */
const lockfile = (versions: Record<string, string>) =>
  JSON.stringify({ lockfileVersion: 3, packages: Object.fromEntries(Object.entries(versions).map(([name, version]) => [`node_modules/${name}`, { version }])) });

const PARTYKIT = {
  "package.json": '{ "name": "chat", "dependencies": { "partysocket": "^1.0.0" } }\n',
  "package-lock.json": lockfile({ partykit: "0.0.115", partysocket: "1.3.0" }),
  "partykit.json": '{ "name": "chat", "main": "src/server.ts" }\n',
  "src/server.ts": 'import type * as Party from "partykit/server";\n\nexport default class Chat implements Party.Server {\n  constructor(readonly room: Party.Room) {}\n  onMessage(message: string) {\n    this.room.broadcast(message);\n  }\n}\n',
};
const PARTYSERVER = {
  "package.json": '{ "name": "chat", "dependencies": { "partyserver": "0.5.10" } }\n',
  "package-lock.json": lockfile({ partyserver: "0.5.10", wrangler: "4.86.0" }),
  "wrangler.jsonc": '{\n  "name": "chat",\n  "main": "src/server.ts",\n  "durable_objects": { "bindings": [{ "name": "Chat", "class_name": "Chat" }] },\n  "migrations": [{ "tag": "v1", "new_sqlite_classes": ["Chat"] }]\n}\n',
  "src/server.ts": 'import { Server, routePartykitRequest } from "partyserver";\n\nexport class Chat extends Server {\n  onMessage(_connection: unknown, message: string) {\n    this.broadcast(message);\n  }\n}\n\nexport default {\n  fetch: async (request: Request, env: Record<string, unknown>) => (await routePartykitRequest(request, env)) ?? new Response("Not found", { status: 404 }),\n};\n',
};

/** init's plan for `files` from the Disk it is given, without the root (which differs). */
async function initPlan(root: string, disk?: Parameters<typeof openProject>[2]): Promise<Omit<InitPlan, "root">> {
  const project = await openProject(root, {}, disk);
  const { root: _root, ...plan } = await project.planInit({ force: false });
  return plan;
}

// The core and the adapters read only through core/read-file.ts (test/structure.test.ts holds
// them to it): a project that exists only in memory is planned exactly as the same files on disk.
describe("the reader seam: init plans a project in memory as on disk", () => {
  for (const [platform, files] of [["PartyKit", PARTYKIT], ["PartyServer", PARTYSERVER]] as const) {
    it(`${platform}: the same changes and findings`, async () => {
      const root = path.resolve("/in-memory", platform.toLowerCase());
      const inMemory = await initPlan(root, memoryDisk(Object.fromEntries(Object.entries(files).map(([file, text]) => [path.join(root, file), text]))));
      const onDisk = await initPlan(makeProject(files));
      assert.ok(inMemory.changes.length >= 3, JSON.stringify(inMemory.changes.map((change) => change.path)));
      assert.deepEqual(inMemory, onDisk);
    });
  }
});

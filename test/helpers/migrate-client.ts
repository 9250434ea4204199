import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { WebSocketServer } from "ws";
import { loadConfig } from "../../src/core/config/load-config.js";
import { loadWrangler } from "../../src/core/config/wrangler/load-wrangler.js";
import { planInitPartyServer } from "../../src/core/partyserver/plan-init-partyserver.js";
import { planMigratePartyServer } from "../../src/core/partyserver/plan-migrate-partyserver.js";
import { renderRouter } from "../../src/core/partykit/render-router.js";
import { planMigrate } from "../../src/core/partykit/plan-migrate.js";
import { disk } from "../../src/infra/disk.js";
import { packageFiles } from "../../src/infra/package-files.js";
import type { Finding } from "../../src/core/plan.js";
import { projectReader } from "../../src/infra/project-reader.js";
import { REPO } from "./cli.js";
import { tempDir } from "./temp.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";

const PARTY = `import type * as Party from "partykit/server";

export default class Server implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onMessage(message: string) {
    this.room.broadcast(message);
  }
}
`;

/**
 * A project around `inputDir`'s files: partykit.json, a party, and the router init would write,
 * in `configDir` (a fixture's case.json `config`: `server`, `apps/party`) or at the root.
 */
export function clientProject(inputDir: string, withNodeModules: boolean, configDir = "."): string {
  const root = tempDir("client");
  const base = path.join(root, configDir);
  mkdirSync(path.join(base, "party"), { recursive: true });
  writeFileSync(path.join(base, "partykit.json"), JSON.stringify({ name: "app", main: "party/server.ts", parties: { router: "party/router.ts" } }, null, 2));
  // As after init: party-shard is a dependency (test/runtime-dependency.test.ts covers adding it).
  writeFileSync(path.join(base, "package.json"), JSON.stringify({ name: "app", private: true, dependencies: { "party-shard": "*", partysocket: "*" } }, null, 2));
  writeFileSync(path.join(base, "party", "server.ts"), PARTY);
  writeFileSync(path.join(base, "party", "router.ts"), renderRouter({ shardedParty: "main", routerParty: "router", shardCount: 4, partyImport: "./server", glueImport: "./party-shard-server" }, packageFiles));
  cpSync(inputDir, root, { recursive: true });
  if (withNodeModules) linkNodeModules(root, REPO);
  return root;
}

/**
 * A version a project without node_modules cannot tell: the fixtures without node_modules all
 * have it, and test/versions.test.ts covers it.
 */
const UNREAD_VERSION = (finding: Finding) => finding.code === "version-unknown";

/** The client half of migrate's plan for that project: changed files (outside party/) and findings. */
export async function migrateClient(root: string, configDir = ".", writes?: "routed" | "socket") {
  const loaded = await loadConfig(disk, path.join(root, configDir));
  const plan = await planMigrate(loaded, projectReader(loaded), { force: false, writes });
  const server = new Set(["party/server.ts", "party/party-shard-server.ts"].map((file) => path.posix.join(configDir, file)));
  const isServer = (file: string) => server.has(file);
  const changes = new Map(plan.changes.filter((change) => !isServer(change.path)).map((change) => [change.path, change.after]));
  const findings = plan.findings
    .filter((finding) => !isServer(finding.location?.file ?? "") && !UNREAD_VERSION(finding))
    .map((finding) => `${finding.level} ${finding.code} ${finding.location?.file}:${finding.location?.line}:${finding.location?.col}`);
  return { changes, findings };
}

/** What the router stub saw: POSTed writes with their headers, and messages sent on sockets. */
export interface StubRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A stand-in for partykit: accepts PartySockets (recording their connect URLs and messages)
 * and answers POSTs with the statuses `answer` gives, in turn, then 200.
 */
export async function routerStub(answers: number[] = []) {
  const seen = { connects: [] as string[], posts: [] as StubRequest[], messages: [] as string[] };
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      seen.posts.push({ path: request.url ?? "", headers: request.headers, body });
      const status = answers.shift() ?? 200;
      // A batch taken whole: each of its writes answered 200, as the router answers.
      const batch = status === 200 && request.headers["content-type"] === "application/vnd.party-shard.batch+json";
      // And it says it takes batches, as the router does on each write's answer.
      response.writeHead(status, { "x-party-shard-batch": "1" }).end(batch ? JSON.stringify({ results: (JSON.parse(body) as unknown[]).map(() => ({ status: 200 })) }) : undefined);
    });
  });
  const sockets = new WebSocketServer({ server });
  sockets.on("connection", (socket, request) => {
    seen.connects.push(request.url ?? "");
    socket.on("message", (data: Buffer) => seen.messages.push(data.toString()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = () => {
    for (const client of sockets.clients) client.terminate();
    sockets.close();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { host: `127.0.0.1:${port}`, seen, close };
}

const PARTYSERVER_MAIN = `import { routePartykitRequest, Server, type Connection, type WSMessage } from "partyserver";

export class ShardLeader extends Server {
  onMessage(_sender: Connection, message: WSMessage) {
    this.broadcast(message);
  }
}

export default {
  async fetch(request: Request, env: Record<string, unknown>) {
    return (await routePartykitRequest(request, env)) ?? new Response("Not found", { status: 404 });
  },
};
`;

/**
 * A PartyServer project around `inputDir`'s files (a fixture's case.json `platform:
 * "partyserver"`): a Worker whose class ShardLeader (URL name shard-leader) is bound in
 * wrangler.jsonc, after init.
 */
export function clientProjectPartyServer(inputDir: string, withNodeModules: boolean): string {
  const root = tempDir("client-ps");
  mkdirSync(path.join(root, "src"), { recursive: true });
  const wrangler = { name: "app", main: "src/server.ts", compatibility_date: "2026-04-20", durable_objects: { bindings: [{ name: "ShardLeader", class_name: "ShardLeader" }] }, migrations: [{ tag: "v1", new_sqlite_classes: ["ShardLeader"] }] };
  writeFileSync(path.join(root, "wrangler.jsonc"), JSON.stringify(wrangler, null, 2));
  writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "app", private: true, dependencies: { "party-shard": "*", partyserver: "*", partysocket: "*" } }, null, 2));
  writeFileSync(path.join(root, "src", "server.ts"), PARTYSERVER_MAIN);
  cpSync(inputDir, root, { recursive: true });
  if (withNodeModules) linkNodeModules(root, REPO);
  return root;
}

/** The client half of migrate's plan for a PartyServer project (init applied first when needed): changes outside the Worker, and findings. */
export async function migrateClientPartyServer(root: string) {
  const initial = await loadWrangler(disk, root);
  for (const change of (await planInitPartyServer(initial, { force: false }, projectReader(initial))).changes) writeFileSync(path.join(root, change.path), change.after);
  const loaded = await loadWrangler(disk, root);
  const plan = await planMigratePartyServer(loaded, projectReader(loaded), { force: false });
  const isServer = (file: string) => file.startsWith("src/") || file === "wrangler.jsonc";
  const changes = new Map(plan.changes.filter((change) => !isServer(change.path)).map((change) => [change.path, change.after]));
  const findings = plan.findings
    .filter((finding) => !isServer(finding.location?.file ?? "") && !UNREAD_VERSION(finding))
    .map((finding) => `${finding.level} ${finding.code} ${finding.location?.file}:${finding.location?.line}:${finding.location?.col}`);
  return { changes, findings };
}

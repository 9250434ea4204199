import { cpSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../src/core/config/load-config.js";
import { renderRouter } from "../../src/core/init/render-router.js";
import { planMigrate } from "../../src/core/migrate/plan-migrate.js";
import { projectReader } from "../../src/infra/project-reader.js";
import { REPO } from "./cli.js";

const PARTY = `import type * as Party from "partykit/server";

export default class Server implements Party.Server {
  constructor(readonly room: Party.Room) {}

  onMessage(message: string) {
    this.room.broadcast(message);
  }
}
`;

/** A project around `inputDir`'s files: partykit.json, a party, and the router init would write. */
export function clientProject(inputDir: string, withNodeModules: boolean): string {
  const root = mkdtempSync(path.join(os.tmpdir(), "party-shard-client-"));
  mkdirSync(path.join(root, "party"));
  writeFileSync(path.join(root, "partykit.json"), JSON.stringify({ name: "app", main: "party/server.ts", parties: { router: "party/router.ts" } }, null, 2));
  writeFileSync(path.join(root, "party", "server.ts"), PARTY);
  writeFileSync(path.join(root, "party", "router.ts"), renderRouter({ shardedParty: "main", routerParty: "router", shardCount: 4 }));
  cpSync(inputDir, root, { recursive: true });
  if (withNodeModules) symlinkSync(path.join(REPO, "node_modules"), path.join(root, "node_modules"), "dir");
  return root;
}

/** The client half of migrate's plan for that project: changed files (outside party/) and findings. */
export async function migrateClient(root: string) {
  const loaded = await loadConfig(root);
  const plan = await planMigrate(loaded, projectReader(loaded), { force: false });
  const isServer = (file: string) => file === "party/server.ts" || file === "party/party-shard-server.ts";
  const changes = new Map(plan.changes.filter((change) => !isServer(change.path)).map((change) => [change.path, change.after]));
  const findings = plan.findings
    .filter((finding) => !isServer(finding.location?.file ?? ""))
    .map((finding) => `${finding.level} ${finding.code} ${finding.location?.file}:${finding.location?.line}:${finding.location?.col}`);
  return { changes, findings };
}

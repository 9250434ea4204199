import { planServer } from "../../src/core/partykit/plan-server.js";
import { memoryReader } from "./reader.js";

/** Runs the server half of migrate over one party file, in memory, as `src/<name>`. */
export async function migrateParty(fileName: string, text: string) {
  const setup = { routerParty: "router", routerFile: "src/router.ts", shardedParty: "main", partyFile: `src/${fileName}` };
  const files = new Map([[setup.partyFile, text]]);
  const plan = await planServer(setup, memoryReader(files), { force: false });
  const after = plan.changes.find((change) => change.path === setup.partyFile)?.after ?? text;
  const findings = plan.findings.map((f) => `${f.level} ${f.code} ${f.location?.line}:${f.location?.col}`);
  return { after, findings, glue: plan.changes.find((change) => change.path === "src/party-shard-server.ts")?.after };
}

import type { LoadedWrangler } from "../config/wrangler/loaded-wrangler.js";
import { planClientHalf } from "../migrate/client/plan-client-half.js";
import { joinHalves, projectVendors } from "../migrate/join-halves.js";
import type { MigrateOptions } from "../migrate/migrate-options.js";
import { rebase, type SetupPlan } from "../plan.js";
import type { ProjectReader } from "../read-file.js";
import { findSetup } from "./find-setup.js";
import { kebab, ROUTER_BINDING } from "../config/wrangler/names.js";
import { planServerPartyServer } from "./plan-server-partyserver.js";
import { SERVER_PACKAGES } from "../versions/supported.js";
import { versionFindings } from "../versions/version-findings.js";
import { loadWorkerSources } from "./worker-sources.js";

/**
 * Everything `migrate` would change on a PartyServer project, as one plan: the sharded class and
 * the Worker's routing (server half), and the clients' sockets to the class's URL name, routed
 * through `party-shard-router` exactly as on PartyKit (client half). Writes nothing.
 */
export async function planMigratePartyServer(loaded: LoadedWrangler, reader: ProjectReader, options: MigrateOptions): Promise<SetupPlan> {
  const { read } = reader;
  const sources = await loadWorkerSources(loaded, read);
  const setup = await findSetup(loaded, sources, read);
  const server = planServerPartyServer(sources, setup.chosen, setup.runtimeFile);
  server.findings.push(...versionFindings(reader.disk, loaded.root, loaded.root, SERVER_PACKAGES.partyserver));
  // The Worker's own modules are server code: their `connection.send` is never a client write.
  const serverFiles = [...sources.project.getSourceFiles().map(sources.relative), setup.runtimeFile];
  const target = { shardedParty: kebab(setup.chosen.binding.name), routerParty: kebab(ROUTER_BINDING), writes: options.writes, noMainParty: true };
  // Without --vendor/--no-vendor, the clients get the runtime as the server's runtime file does.
  const vendor = options.vendor ?? projectVendors(await read(setup.runtimeFile).catch(() => null));
  const client = await planClientHalf(loaded.root, serverFiles, target, reader, { ...options, vendor });
  const joined = await joinHalves({ ...server, importers: [] }, client, client.scopeRoot === reader.disk.realpath(loaded.root) ? loaded.root : client.scopeRoot);
  return { ...joined, setup: { party: setup.chosen.binding.name, file: rebase(setup.chosen.file, loaded.root, joined.root), shards: setup.shardCount } };
}

import path from "node:path";
import type { LoadedConfig } from "../config/load-config.js";
import type { ProjectReader } from "../read-file.js";
import { rebase, type SetupPlan } from "../plan.js";
import { planClientHalf } from "../migrate/client/plan-client-half.js";
import { joinHalves, projectVendors } from "../migrate/join-halves.js";
import type { MigrateOptions } from "../migrate/migrate-options.js";
import { findRouter } from "./find-router.js";
import { GLUE_FILE_NAME } from "./render-glue.js";
import { planServer } from "./plan-server.js";
import { SERVER_PACKAGES } from "../versions/supported.js";
import { versionFindings } from "../versions/version-findings.js";

/**
 * Everything `migrate` would change, server half and client half, as one plan. Reads the
 * project; writes nothing. Clients are looked for in the whole repository the config lives in
 * (a `client/` beside `server/`, workspace packages), so the plan's root is that repository's.
 */
export async function planMigrate(loaded: LoadedConfig, reader: ProjectReader, options: MigrateOptions): Promise<SetupPlan> {
  const { read } = reader;
  const configRoot = reader.disk.realpath(loaded.root);
  const setup = await findRouter(loaded, read);
  const glueFile = path.posix.join(path.posix.dirname(setup.routerFile), GLUE_FILE_NAME);
  // Without --vendor/--no-vendor, the clients get the runtime as the server's glue does.
  const vendor = options.vendor ?? projectVendors(await read(glueFile).catch(() => null));
  const server = await planServer(setup, reader, { ...options, vendor });
  server.findings.push(...versionFindings(reader.disk, loaded.root, loaded.root, SERVER_PACKAGES.partykit));

  // Party files are server code: their `connection.send` is never a client write.
  const serverFiles = [loaded.config.main, ...Object.values(loaded.config.parties), glueFile];
  const client = await planClientHalf(loaded.root, serverFiles, { ...setup, writes: options.writes }, reader, { ...options, vendor });
  const joined = await joinHalves(server, client, client.scopeRoot === configRoot ? loaded.root : client.scopeRoot);
  return { ...joined, setup: { party: setup.shardedParty, file: rebase(setup.partyFile, loaded.root, joined.root), shards: setup.shardCount } };
}

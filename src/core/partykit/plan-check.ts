import { checkResult, generatedDrift, type CheckOptions, type CheckResult, type Drift } from "../check/check-result.js";
import type { LoadedConfig } from "../config/load-config.js";
import { configFilePath } from "../config/party-file.js";
import type { ProjectReader } from "../read-file.js";
import { findRouterIfAny, type RouterSetup } from "./find-router.js";
import { planInit } from "./plan-init.js";
import { planMigrate } from "./plan-migrate.js";

/**
 * What `init` + `migrate` would still do, as items with file:line:col, computed by the same
 * planners without writing. Only work the user can do is an item (exit 1); warnings never fail
 * it. With `strict`, a router that differs from today's template is an item, else a warning.
 */
export async function planCheck(loaded: LoadedConfig, reader: ProjectReader, options: CheckOptions): Promise<CheckResult> {
  // A project without a router is work left (exit 1); a router whose party file is missing is bad input.
  const setup = await findRouterIfAny(loaded, reader.read);
  if (!setup) return { items: [{ location: { file: loaded.file }, reason: "no party-shard router party: run `npx party-shard init`" }], warnings: [] };
  // The same planner init runs, with the router's own settings: any change is drift.
  const drift = await routerDrift(loaded, setup, reader, options.strict);
  // force: a generated file the user edited shows up as a change instead of stopping the check.
  const plan = await planMigrate(loaded, reader, { force: true, writes: options.writes, clientDirs: options.clientDirs, onProgress: options.onProgress });
  return checkResult([], drift, plan, loaded.file, options.strict);
}

/** Why init, run again with the router's own settings, would change the router; undefined if it would not. */
function routerDrift(loaded: LoadedConfig, setup: RouterSetup, reader: ProjectReader, strict: boolean): Promise<Drift | undefined> {
  // By name, or by file when the router shards main's source rather than main's (built) file.
  const entry = setup.shardedParty === "main" ? loaded.config.main : loaded.config.parties[setup.shardedParty]!;
  const party = configFilePath(entry) === setup.partyFile ? setup.shardedParty : setup.partyFile;
  return generatedDrift("router", setup.routerFile, () => planInit(loaded, { party, name: setup.routerParty, out: setup.routerFile, force: true }, reader), strict);
}

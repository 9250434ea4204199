import { checkResult, generatedDrift, type CheckItem, type CheckOptions, type CheckResult } from "../check/check-result.js";
import { routerConfigProblems } from "../config/wrangler/add-router.js";
import type { LoadedWrangler } from "../config/wrangler/loaded-wrangler.js";
import { findSetupIfAny } from "./find-setup.js";
import { ROUTER_BINDING } from "../config/wrangler/names.js";
import { planInitPartyServer } from "./plan-init-partyserver.js";
import { planMigratePartyServer } from "./plan-migrate-partyserver.js";
import { exportsRouter } from "./route-worker.js";
import { loadWorkerSources } from "./worker-sources.js";
import type { ProjectReader } from "../read-file.js";

/**
 * `check` on a PartyServer project: the same items as on PartyKit (a site migrate rewrites, a
 * manual step, a generated file missing or edited), plus what init sets up there: the router's
 * binding and migration in the wrangler config, and its export from the Worker's main.
 */
export async function planCheckPartyServer(loaded: LoadedWrangler, reader: ProjectReader, options: CheckOptions): Promise<CheckResult> {
  const { read } = reader;
  const sources = await loadWorkerSources(loaded, read);
  const setup = await findSetupIfAny(loaded, sources, read);
  if (!setup) return { items: [{ location: { file: loaded.file }, reason: "no party-shard runtime for any bound class: run `npx party-shard init`" }], warnings: [] };
  const items: CheckItem[] = routerConfigProblems(loaded).map((problem) => ({
    location: { file: loaded.file, ...(problem.line ? { line: problem.line } : {}) },
    reason: `${problem.message} (party-shard init)`,
  }));
  if (!exportsRouter(sources.main)) {
    items.push({ location: { file: loaded.main, line: 1, col: 1 }, reason: `the Worker's main does not export ${ROUTER_BINDING}: wrangler cannot start the router (party-shard init)` });
  }
  const drift = await generatedDrift("runtime", setup.runtimeFile, () => planInitPartyServer(loaded, { party: setup.chosen.binding.name, shards: setup.shardCount, force: true }, reader), options.strict);
  // force: a generated file the user edited shows up as a change instead of stopping the check.
  const plan = await planMigratePartyServer(loaded, reader, { force: true, writes: options.writes, clientDirs: options.clientDirs, onProgress: options.onProgress });
  return checkResult(items, drift, plan, loaded.file, options.strict);
}

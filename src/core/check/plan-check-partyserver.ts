import { PartyShardError } from "../../errors.js";
import { routerConfigProblems } from "../config/wrangler/add-router.js";
import type { LoadedWrangler } from "../config/wrangler/loaded-wrangler.js";
import { findSetupIfAny, type PartyServerSetup } from "../partyserver/find-setup.js";
import { ROUTER_BINDING } from "../partyserver/names.js";
import { planInitPartyServer } from "../partyserver/plan-init-partyserver.js";
import { planMigratePartyServer } from "../partyserver/plan-migrate-partyserver.js";
import { exportsRouter } from "../partyserver/route-worker.js";
import { loadWorkerSources } from "../partyserver/worker-sources.js";
import type { Finding } from "../plan.js";
import type { ReadFile } from "../read-file.js";
import type { CheckItem, CheckOptions, CheckResult } from "./plan-check.js";
import { migrateItems } from "./plan-check.js";

/**
 * `check` on a PartyServer project: the same items as on PartyKit (a site migrate rewrites, a
 * manual step, a generated file missing or edited), plus what init sets up there: the router's
 * binding and migration in the wrangler config, and its export from the Worker's main.
 */
export async function planCheckPartyServer(loaded: LoadedWrangler, read: ReadFile, options: CheckOptions): Promise<CheckResult> {
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
  const warnings: Finding[] = [];
  const drift = await runtimeDrift(loaded, setup, read, options.strict);
  if (drift) {
    if (options.strict) items.push({ location: { file: setup.runtimeFile }, reason: drift });
    else warnings.push({ level: "warning", code: "router-outdated", message: `${drift} (check --strict fails on this)`, location: { file: setup.runtimeFile } });
  }
  // force: a generated file the user edited shows up as a change instead of stopping the check.
  const plan = await planMigratePartyServer(loaded, read, { force: true, writes: options.writes, clientDirs: options.clientDirs, onProgress: options.onProgress });
  items.push(...migrateItems(plan, loaded.file));
  return { items, warnings: [...warnings, ...plan.findings.filter((finding) => finding.level === "warning")], setup: plan.setup };
}

/** Why init, run again for the same class and shard count, would change the runtime; undefined if it would not. */
async function runtimeDrift(loaded: LoadedWrangler, setup: PartyServerSetup, read: ReadFile, strict: boolean): Promise<string | undefined> {
  try {
    const init = await planInitPartyServer(loaded, { party: setup.chosen.binding.name, shards: setup.shardCount, force: true }, read);
    if (!init.changes.some((change) => change.path === setup.runtimeFile)) return undefined;
    return "the runtime differs from what this party-shard version generates: run `npx party-shard init --force`";
  } catch (error) {
    if (strict || !(error instanceof PartyShardError)) throw error;
    return `init could not regenerate the runtime: ${error.message}`;
  }
}

import { PartyShardError, type SourceLocation } from "../../errors.js";
import type { LoadedConfig } from "../config/load-config.js";
import { configFilePath } from "../config/party-file.js";
import { planInit } from "../init/plan-init.js";
import type { ReadFile } from "../read-file.js";
import { findRouterIfAny, type RouterSetup } from "../migrate/find-router.js";
import { planMigrate } from "../migrate/plan-migrate.js";
import type { WritesMode } from "../migrate/client/plan-client.js";
import { findingSpec } from "../findings.js";
import type { Finding, OnProgress, Plan, ShardSetup } from "../plan.js";

/** One thing left to do before the project is fully sharded. */
export interface CheckItem {
  location: SourceLocation;
  reason: string;
}

export interface CheckResult {
  items: CheckItem[];
  /** Findings worth reading that are not work left. */
  warnings: Finding[];
  /** What is sharded; undefined before init. */
  setup?: ShardSetup;
}

/** What `check` is asked: `strict` fails on a generated file that differs from today's template. */
export interface CheckOptions {
  strict: boolean;
  writes?: WritesMode;
  clientDirs?: string[];
  onProgress?: OnProgress;
}

/**
 * What `init` + `migrate` would still do, as items with file:line:col, computed by the same
 * planners without writing. Only work the user can do is an item (exit 1); warnings never fail
 * it. With `strict`, a router that differs from today's template is an item, else a warning.
 */
export async function planCheck(loaded: LoadedConfig, read: ReadFile, options: CheckOptions): Promise<CheckResult> {
  // A project without a router is work left (exit 1); a router whose party file is missing is bad input.
  const setup = await findRouterIfAny(loaded, read);
  if (!setup) return { items: [{ location: { file: loaded.file }, reason: "no party-shard router party: run `npx party-shard init`" }], warnings: [] };
  const items: CheckItem[] = [];
  const warnings: Finding[] = [];
  // The same planner init runs, with the router's own settings: any change is drift. It fails
  // the check only with --strict: the router still works, and CI should not go red on an upgrade.
  const reason = await routerDrift(loaded, setup, read, options.strict);
  if (reason) {
    if (options.strict) items.push({ location: { file: setup.routerFile }, reason });
    else warnings.push({ level: "warning", code: "router-outdated", message: `${reason} (check --strict fails on this)`, location: { file: setup.routerFile } });
  }
  // force: a generated file the user edited shows up as a change instead of stopping the check.
  const plan = await planMigrate(loaded, read, { force: true, writes: options.writes, clientDirs: options.clientDirs, onProgress: options.onProgress });
  items.push(...migrateItems(plan, loaded.file));
  return { items, warnings: [...warnings, ...plan.findings.filter((finding) => finding.level === "warning")], setup: plan.setup };
}

/** The work a migrate plan shows is left: a file it creates or regenerates, a site it rewrites, a manual step. */
export function migrateItems(plan: Plan, configFile: string): CheckItem[] {
  const items: CheckItem[] = [];
  const sites = new Set(plan.findings.filter((finding) => findingSpec(finding.code).left !== undefined).map((finding) => finding.location?.file));
  for (const change of plan.changes) {
    if (change.before === null) items.push({ location: { file: change.path }, reason: "missing: party-shard migrate creates it" });
    else if (!sites.has(change.path)) items.push({ location: { file: change.path }, reason: "differs from what party-shard generates: run `npx party-shard migrate --force`" });
  }
  // Work the user can do fails the check: a site migrate rewrites, or a manual step.
  for (const finding of plan.findings) {
    const reason = findingSpec(finding.code).left ?? (finding.level === "manual" ? finding.message : undefined);
    if (reason) items.push({ location: finding.location ?? { file: configFile }, reason });
  }
  return items;
}

/** Why init, run again with the router's own settings, would change the router; undefined if it would not. */
async function routerDrift(loaded: LoadedConfig, setup: RouterSetup, read: ReadFile, strict: boolean): Promise<string | undefined> {
  // By name, or by file when the router shards main's source rather than main's (built) file.
  const entry = setup.shardedParty === "main" ? loaded.config.main : loaded.config.parties[setup.shardedParty]!;
  const party = configFilePath(entry) === setup.partyFile ? setup.shardedParty : setup.partyFile;
  try {
    const init = await planInit(loaded, { party, name: setup.routerParty, out: setup.routerFile, force: true }, read);
    if (!init.changes.some((change) => change.path === setup.routerFile)) return undefined;
    return "the router differs from what this party-shard version generates: run `npx party-shard init --force`";
  } catch (error) {
    // Without --strict, the router is only compared: a setup init would now refuse is reported, not fatal.
    if (strict || !(error instanceof PartyShardError)) throw error;
    return `init could not regenerate the router: ${error.message}`;
  }
}

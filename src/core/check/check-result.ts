import { PartyShardError, type SourceLocation } from "../../errors.js";
import { findingSpec } from "../findings.js";
import type { WritesMode } from "../migrate/migrate-options.js";
import type { Finding, OnProgress, Plan, SetupPlan, ShardSetup } from "../plan.js";

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
  /** The config the router is declared in (partykit.json, the wrangler config); undefined before init. */
  configFile?: string;
}

/** What `check` is asked: `strict` fails on a generated file that differs from today's template. */
export interface CheckOptions {
  strict: boolean;
  writes?: WritesMode;
  clientDirs?: string[];
  onProgress?: OnProgress;
}

/** Why init, run again with the setup's own settings, would change its generated file. */
export interface Drift {
  file: string;
  reason: string;
}

/**
 * Whether init, run again (`planInit`, with force), would change `file`, the router or the
 * runtime it generated. Without `strict` a setup init would now refuse is reported, not fatal.
 */
export async function generatedDrift(what: "router" | "runtime", file: string, planInit: () => Promise<Plan>, strict: boolean): Promise<Drift | undefined> {
  try {
    const init = await planInit();
    if (!init.changes.some((change) => change.path === file)) return undefined;
    return { file, reason: `the ${what} differs from what this party-shard version generates: run \`npx party-shard init --force\`` };
  } catch (error) {
    if (strict || !(error instanceof PartyShardError)) throw error;
    return { file, reason: `init could not regenerate the ${what}: ${error.message}` };
  }
}

/**
 * check's answer on either platform: the platform's own items, the drift (an item only with
 * --strict: the router still works, and CI should not go red on an upgrade), then what the
 * migrate plan (planned with force) shows is left; its warnings are the check's warnings.
 */
export function checkResult(items: CheckItem[], drift: Drift | undefined, plan: SetupPlan, configFile: string, strict: boolean): CheckResult {
  const warnings: Finding[] = [];
  if (drift) {
    if (strict) items.push({ location: { file: drift.file }, reason: drift.reason });
    else warnings.push({ level: "warning", code: "router-outdated", message: `${drift.reason} (check --strict fails on this)`, location: { file: drift.file } });
  }
  items.push(...migrateItems(plan, configFile));
  return { items, warnings: [...warnings, ...plan.findings.filter((finding) => finding.level === "warning")], setup: plan.setup, configFile };
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

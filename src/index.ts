import { loadConfig as loadConfigFrom, type LoadedConfig } from "./core/config/load-config.js";
import { renderRouter as renderRouterWith, type RouterOptions } from "./core/partykit/render-router.js";
import { disk } from "./infra/disk.js";
import { packageFiles } from "./infra/package-files.js";

/**
 * party-shard as a library: plan the changes a command would make, without printing or writing.
 *
 * @example
 * const loaded = await loadConfig(process.cwd());
 * const plan = await planInit(loaded, { party: "main", shards: 4, force: false }, projectReader(loaded));
 * for (const change of plan.changes) console.log(change.path);
 */
export { parseConfig, type LoadedConfig, type PartyKitConfig } from "./core/config/load-config.js";
export { planInit, type InitOptions } from "./core/partykit/plan-init.js";
export type { Disk, ProjectReader, ReadFile } from "./core/read-file.js";
export type { PackageFiles } from "./core/package-info.js";
export type { RouterOptions } from "./core/partykit/render-router.js";
export { projectReader } from "./infra/project-reader.js";
export { applyPlan } from "./infra/apply-plan.js";
export type { FileChange, Finding, FindingCode, FindingLevel, InitPlan, Plan, ShardSetup } from "./core/plan.js";
export { PartyShardError, type SourceLocation } from "./errors.js";

/** Finds and reads the PartyKit config the way `partykit` does from `cwd`, or the one `explicit` names. */
export function loadConfig(cwd: string, explicit?: string): Promise<LoadedConfig> {
  return loadConfigFrom(disk, cwd, explicit);
}

/** The router file `init` writes, for the given options. */
export function renderRouter(options: RouterOptions): string {
  return renderRouterWith(options, packageFiles);
}

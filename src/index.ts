/**
 * party-shard as a library: plan the changes a command would make, without printing or writing.
 *
 * @example
 * const loaded = await loadConfig(process.cwd());
 * const plan = await planInit(loaded, { party: "main", shards: 4, force: false }, readFile);
 * for (const change of plan.changes) console.log(change.path);
 */
export { loadConfig, parseConfig, type LoadedConfig, type PartyKitConfig } from "./core/config/load-config.js";
export { planInit, type InitOptions } from "./core/partykit/plan-init.js";
export type { ReadFile } from "./core/read-file.js";
export { renderRouter, type RouterOptions } from "./core/partykit/render-router.js";
export { applyPlan } from "./infra/apply-plan.js";
export type { FileChange, Finding, FindingCode, FindingLevel, InitPlan, Plan, ShardSetup } from "./core/plan.js";
export { PartyShardError, type SourceLocation } from "./errors.js";

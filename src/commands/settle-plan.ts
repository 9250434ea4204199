import pc from "picocolors";
import { formatLocation, type ExitCode } from "../errors.js";
import type { Finding, Plan } from "../core/plan.js";
import { applyPlan } from "../infra/apply-plan.js";
import type { Logger } from "../ui/logger.js";
import type { Prompts } from "../ui/prompts.js";
import { colorDiff, unifiedDiff } from "../ui/render-diff.js";
import type { SharedOptions } from "./shared.js";

export interface CommandContext {
  options: SharedOptions;
  logger: Logger;
  prompts: Prompts;
  /** Where `--json` output goes. */
  stdout: (text: string) => void;
}

/**
 * The end of every writing command: show the plan, ask when interactive, apply it (unless
 * --dry-run), and report. Dry run, JSON and the real write all use the same plan.
 */
export async function settlePlan(command: string, plan: Plan, context: CommandContext): Promise<ExitCode> {
  const { options, logger, prompts } = context;
  const showDiff = options.dryRun || (prompts.interactive && plan.changes.length > 0);
  if (showDiff && !options.json) for (const change of plan.changes) logger.raw(colorDiff(unifiedDiff(change)));

  let applied = false;
  if (!options.dryRun && plan.changes.length > 0) {
    if (prompts.interactive && !(await prompts.confirm(`Write ${describeCount(plan)}?`))) {
      logger.warn("Nothing was written.");
      return 1;
    }
    await applyPlan(plan);
    applied = true;
  }

  if (options.json) {
    context.stdout(JSON.stringify(planToJson(command, plan, options.dryRun, applied), null, 2));
    return 0;
  }
  for (const change of plan.changes) {
    const verb = change.before === null ? "create" : "update";
    logger.step(`${options.dryRun ? `would ${verb}` : `${verb}d`} ${change.path}`);
  }
  for (const finding of plan.findings) logFinding(logger, finding);
  if (options.dryRun && plan.changes.length > 0) logger.info(`Dry run: ${describeCount(plan)} not written.`);
  return 0;
}

export function planToJson(command: string, plan: Plan, dryRun: boolean, applied: boolean) {
  return {
    command,
    root: plan.root,
    dryRun,
    applied,
    changes: plan.changes.map((change) => ({
      path: change.path,
      action: change.before === null ? "create" : "update",
      diff: unifiedDiff(change),
    })),
    findings: plan.findings,
  };
}

function logFinding(logger: Logger, finding: Finding): void {
  const where = finding.location ? `${pc.dim(formatLocation(finding.location))}  ` : "";
  const text = `${where}${finding.message}`;
  if (finding.level === "info") logger.info(text);
  else logger.warn(text);
}

function describeCount(plan: Plan): string {
  return plan.changes.length === 1 ? "1 file" : `${plan.changes.length} files`;
}

import path from "node:path";
import { PartyShardError, formatLocation, type ExitCode } from "../errors.js";
import { uncommittedFiles } from "../infra/git.js";
import { findingSpec, type FindingCode } from "../core/findings.js";
import type { FileChange, Finding, Plan } from "../core/plan.js";
import { applyPlan } from "../infra/apply-plan.js";
import type { Logger } from "../ui/logger.js";
import { colorDiff, unifiedDiff } from "../ui/render-diff.js";
import { listed, type RunLeft } from "./next-step.js";
import type { CommandContext } from "./context.js";
import type { WritingOptions } from "./flags.js";
import { summarize, type ProjectFacts } from "./summary.js";

/** The flags that decide how a plan is shown and whether it is written. */
export type SettleOptions = Pick<WritingOptions, "dryRun" | "json" | "force" | "verbose">;

/** What the command knows besides its plan: the summary's facts, and how to tell the next step. */
export interface RunFacts extends ProjectFacts {
  next: (left: RunLeft) => string;
}

/**
 * The end of every writing command: show the plan, ask when interactive, apply it (unless
 * --dry-run), and report. Dry run, JSON and the real write all use the same plan.
 */
export async function settlePlan(command: string, plan: Plan, context: CommandContext<SettleOptions>, facts: RunFacts): Promise<ExitCode> {
  const { options, logger, prompts } = context;
  const writes = !options.dryRun && plan.changes.length > 0;
  // Before the diff: a diff the user reads to the end only to be refused is time lost.
  if (writes) await refuseDirtyTree(plan.root, options.force);
  const showDiff = options.dryRun || (prompts.interactive && plan.changes.length > 0);
  if (showDiff && !options.json) {
    for (const change of plan.changes) {
      const diff = unifiedDiff(change);
      logger.raw(change.generated && !options.verbose && changedLines(diff) > SHORT_DIFF_LINES ? generatedLine(change, logger) : colorDiff(diff, logger.colors));
    }
  }

  let applied = false;
  if (writes) {
    if (prompts.interactive && !(await prompts.confirm(`Write ${describeCount(plan)}?`))) {
      logger.warn("Nothing was written.");
      return 1;
    }
    await applyPlan(plan);
    applied = true;
  }
  const next = facts.next(await whatIsLeft(plan, options, applied));

  if (options.json) {
    const summary = summarize(command, facts, plan.changes.length, plan.findings, next);
    context.stdout(JSON.stringify({ summary, ...planToJson(command, plan, options.dryRun, applied) }, null, 2));
    return 0;
  }
  for (const change of plan.changes) {
    const verb = change.before === null ? "create" : "update";
    logger.step(`${options.dryRun ? `would ${verb}` : `${verb}d`} ${change.path}`);
  }
  for (const line of summarizeSites(plan.findings)) logger.info(line);
  for (const finding of plan.findings) if (!counted(finding)) logFinding(logger, finding);
  if (options.dryRun && plan.changes.length > 0) logger.info(`Dry run: ${describeCount(plan)} not written.`);
  // init says "already set up" itself; migrate's plan has no finding for a project it already routed.
  if (plan.changes.length === 0 && !plan.findings.some((finding) => finding.code === "up-to-date")) logger.info("Nothing to change: no file was written.");
  logger.info(`Next: ${next}.`);
  return 0;
}

/** What the run left for the next step to start from; git is asked only when the answer can matter. */
async function whatIsLeft(plan: Plan, options: SettleOptions, applied: boolean): Promise<RunLeft> {
  return {
    dryRun: options.dryRun,
    // As the user's shell names them: the next step may be a git command to paste.
    changed: plan.changes.map((change) => path.relative(process.cwd(), path.join(plan.root, change.path)).split(path.sep).join("/")),
    written: applied,
    uncommitted: options.dryRun || applied ? await uncommittedFiles(plan.root) : [],
    force: options.force,
  };
}

/** Writing over uncommitted work makes it hard to review or undo what party-shard did. */
async function refuseDirtyTree(root: string, force: boolean): Promise<void> {
  if (force) return;
  const dirty = await uncommittedFiles(root);
  if (dirty.length === 0) return;
  throw new PartyShardError(`The git working tree has uncommitted changes (${listed(dirty)}); nothing was written.`, {
    hint: "Commit or stash them first so party-shard's changes can be reviewed on their own, or pass --force.",
  });
}

function planToJson(command: string, plan: Plan, dryRun: boolean, applied: boolean) {
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

/** A finding that records an edited site: shown as a count per file, listed in full only by --json. */
const counted = (finding: Finding) => findingSpec(finding.code).counted !== undefined;

function summarizeSites(findings: Finding[]): string[] {
  const perFile = new Map<string, Map<FindingCode, number>>();
  for (const finding of findings) {
    if (!counted(finding) || !finding.location) continue;
    const counts = perFile.get(finding.location.file) ?? new Map<FindingCode, number>();
    counts.set(finding.code, (counts.get(finding.code) ?? 0) + 1);
    perFile.set(finding.location.file, counts);
  }
  return [...perFile].map(([file, counts]) => {
    const parts = [...counts].map(([code, count]) => {
      const [one, many] = findingSpec(code).counted!;
      return count === 1 ? `1 ${one}` : `${count} ${many}`;
    });
    return `${file}: ${parts.join(", ")}`;
  });
}

function logFinding(logger: Logger, finding: Finding): void {
  const where = finding.location ? `${logger.colors.dim(formatLocation(finding.location))}  ` : "";
  const text = `${where}${finding.message}`;
  if (finding.level === "info") logger.info(text);
  else logger.warn(text);
}

// A generated file whose diff is this short (a new shard count) is shown as a diff after all.
const SHORT_DIFF_LINES = 20;

function changedLines(diff: string): number {
  return diff.split("\n").filter((line) => /^[+-](?![+-]{2} )/.test(line)).length;
}

/**
 * A generated file in one line: hundreds of template lines would scroll the diff of the
 * user's own files out of sight before the question is asked.
 */
function generatedLine(change: FileChange, logger: Logger): string {
  const lines = change.after.split("\n").length - (change.after.endsWith("\n") ? 1 : 0);
  const sign = change.before === null ? logger.colors.green("+") : logger.colors.cyan("~");
  const what = change.before === null ? "generated" : "generated, upgraded";
  return `${sign} ${change.path} ${logger.colors.dim(`(${what}, ${lines} lines; --verbose shows it)`)}`;
}

function describeCount(plan: Plan): string {
  return plan.changes.length === 1 ? "1 file" : `${plan.changes.length} files`;
}

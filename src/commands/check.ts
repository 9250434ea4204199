import { Command } from "commander";
import { PLAN_FILE, capacityFindings } from "../core/capacity/saved-plan.js";
import type { WritesMode } from "../core/migrate/migrate-options.js";
import type { ExitCode } from "../errors.js";
import { formatLocation } from "../errors.js";
import type { CheckItem, CheckResult } from "../core/check/check-result.js";
import type { ActionRunner, CommandContext } from "./context.js";
import { PROJECT_FLAGS, withFlags, type OptionsOf } from "./flags.js";
import { readSavedPlan } from "./saved-plan-file.js";
import { exitCodesHelp, withProgress } from "./shared.js";
import { setupFacts, summarize } from "./summary.js";

const CHECK_FLAGS = [
  ...PROJECT_FLAGS,
  ["json", "print the result, or the error, as JSON on stdout"],
  "format",
  "strict",
  ["writes", "the --writes migrate ran with: routed, or socket (then socket.send on a routed socket is expected)"],
  "client",
  ["yes", "accepted for symmetry; check never prompts"],
  "color",
] as const;

export function checkCommand(run: ActionRunner): Command {
  return withFlags(new Command("check").description("exit 1, listing file:line:col for each, if anything is left to shard (for CI; never writes)"), CHECK_FLAGS)
    .addHelpText(
      "after",
      `\nExamples:\n  $ party-shard check\n  $ party-shard check --strict --format github\n${exitCodesHelp([
        [0, "fully sharded (warnings alone do not fail)"],
        [1, "work left, each item with file:line:col"],
        [2, "bad input (flags, config, unreadable files)"],
      ])}`,
    )
    .action(run(CHECK_FLAGS, check));
}

export async function check(context: CommandContext<OptionsOf<typeof CHECK_FLAGS>>): Promise<ExitCode> {
  const { options } = context;
  const { openProject } = await import("../platforms/index.js");
  const project = await openProject(options.cwd, options);
  const checkOptions = { strict: options.strict, writes: options.writes, clientDirs: options.client };
  const result = await withProgress(context.progress, (onProgress) => project.planCheck({ ...checkOptions, onProgress }));
  addCapacityFindings(result, options.cwd, options.writes, options.strict);
  const ok = result.items.length === 0;
  const next = checkNext(result, project.devServer);
  const { setup, configFile: _config, ...report } = result;
  if (options.json) {
    const summary = summarize("check", { platform: project.platform, ...setupFacts(setup) }, 0, result.warnings, next, result.items.length);
    context.stdout(JSON.stringify({ summary, ok, ...report }, null, 2));
  } else if (options.format === "github") context.stdout(githubAnnotations(result));
  else context.stdout(`${textReport(result)}\nNext: ${next}.`);
  return ok ? 0 : 1;
}

/**
 * The router against the room: the Free plan's subrequests, and the plan saved by `plan --save`
 * (party-shard.plan.json in the folder check runs in). Warnings; items with --strict.
 */
function addCapacityFindings(result: CheckResult, cwd: string, writes: WritesMode, strict: boolean) {
  const shards = result.setup?.shards;
  if (shards === undefined) return;
  for (const finding of capacityFindings(shards, writes, readSavedPlan(cwd).plan)) {
    // The subrequests hang on the router's shard count, set where the config declares the router.
    if (strict) result.items.push({ location: finding.location ?? { file: result.configFile ?? PLAN_FILE }, reason: finding.message });
    else result.warnings.push({ ...finding, message: `${finding.message} (check --strict fails on this)` });
  }
}

/** Green: measure it; no setup: init; otherwise the items, most of which migrate routes. */
function checkNext(result: CheckResult, devServer: string): string {
  if (result.items.length === 0) return `npx party-shard verify measures delivery on ${devServer}`;
  if (!result.setup) return "npx party-shard init sets up the router";
  // The items migrate can do end with "(party-shard migrate)"; the rest are edits by hand.
  if (result.items.some((item) => item.reason.endsWith("(party-shard migrate)"))) return "npx party-shard migrate --dry-run shows the changes for the items marked party-shard migrate";
  return "edit each item at the line listed, then run npx party-shard check again";
}

// Exit 1 is for items only (work the user can do); warnings are printed, but a warning alone
// leaves CI green.
function textReport({ items, warnings }: CheckResult): string {
  const lines = items.map((item) => `${formatLocation(item.location)}  ${item.reason}`);
  for (const warning of warnings) lines.push(`${warning.location ? `${formatLocation(warning.location)}  ` : ""}warning: ${warning.message}`);
  lines.push(`party-shard check: ${items.length === 0 ? "fully sharded" : `${items.length} item${items.length === 1 ? "" : "s"} left`}${warningCount(warnings.length)}.`);
  return lines.join("\n");
}

const warningCount = (count: number) => (count === 0 ? "" : ` (${count} warning${count === 1 ? "" : "s"}, which do${count === 1 ? "es" : ""} not fail the check)`);

/** GitHub Actions workflow commands: each item becomes an error annotation on its line, each warning a warning. */
function githubAnnotations({ items, warnings }: CheckResult): string {
  const annotation = (kind: string, reason: string, location?: CheckItem["location"]) => {
    if (!location) return `::${kind}::${escapeData(reason)}`;
    const { file, line, col } = location;
    const where = [`file=${file}`, line !== undefined ? `line=${line}` : "", col !== undefined ? `col=${col}` : ""].filter(Boolean).join(",");
    return `::${kind} ${where}::${escapeData(reason)}`;
  };
  const lines = items.map((item) => annotation("error", item.reason, item.location));
  for (const warning of warnings) lines.push(annotation("warning", warning.message, warning.location));
  return items.length === 0 ? [...lines, "party-shard check: fully sharded."].join("\n") : lines.join("\n");
}

function escapeData(text: string): string {
  return text.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
}

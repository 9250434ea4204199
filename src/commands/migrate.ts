import { Command } from "commander";
import type { ExitCode } from "../errors.js";
import { clientOption, parseClientOptions } from "./client-options.js";
import type { CommandContext } from "./settle-plan.js";
import { WRITING_EXIT_CODES, exitCodesHelp, withProgress, withSharedOptions, type ActionRunner } from "./shared.js";

export function migrateCommand(run: ActionRunner<CommandContext>): Command {
  return withSharedOptions(
    new Command("migrate").description("route client sockets and sends through the router, and make the party lead its shards"),
  )
    .addOption(clientOption())
    .option("--writes <mode>", "how routed sockets write: routed (sendViaRouter, a POST through the router) or socket (socket.send, relayed by its shard)", "routed")
    .addHelpText("after", `\nExamples:\n  $ party-shard migrate --dry-run\n  $ party-shard migrate --yes --json\n${exitCodesHelp(WRITING_EXIT_CODES)}`)
    .action(run(migrate));
}

export async function migrate(context: CommandContext, raw: Record<string, unknown>): Promise<ExitCode> {
  const { options } = context;
  const { writes, clientDirs } = parseClientOptions(raw, options.cwd);
  // ts-morph is loaded only when a command needs it, so --help and flag errors stay fast.
  const { loadConfig } = await import("../core/config/load-config.js");
  const { planMigrate } = await import("../core/migrate/plan-migrate.js");
  const { settlePlan } = await import("./settle-plan.js");
  const { projectReader } = await import("../infra/project-reader.js");
  const loaded = await loadConfig(options.cwd, options.config);
  const plan = await withProgress(context.progress, (onProgress) => planMigrate(loaded, projectReader(loaded), { force: options.force, writes, clientDirs, onProgress }));
  const exitCode = await settlePlan("migrate", plan, context);
  if (exitCode === 0 && !options.json && !options.dryRun) context.logger.info("Next: npx party-shard check lists anything left; npx party-shard verify measures delivery on partykit dev.");
  return exitCode;
}

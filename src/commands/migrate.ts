import { Command } from "commander";
import type { ExitCode } from "../errors.js";
import type { CommandContext } from "./settle-plan.js";
import { withProgress, withSharedOptions, type ActionRunner } from "./shared.js";

export function migrateCommand(run: ActionRunner<CommandContext>): Command {
  return withSharedOptions(
    new Command("migrate").description("route client sockets and sends through the router, and run onMessage for routed writes on every shard"),
  )
    .addHelpText("after", "\nExamples:\n  $ party-shard migrate --dry-run\n  $ party-shard migrate --yes --json\n")
    .action(run(migrate));
}

export async function migrate(context: CommandContext): Promise<ExitCode> {
  const { options } = context;
  // ts-morph is loaded only when a command needs it, so --help and flag errors stay fast.
  const { loadConfig } = await import("../core/config/load-config.js");
  const { planMigrate } = await import("../core/migrate/plan-migrate.js");
  const { settlePlan } = await import("./settle-plan.js");
  const { projectReader } = await import("../infra/project-reader.js");
  const loaded = await loadConfig(options.cwd, options.config);
  const plan = await withProgress(context.progress, (onProgress) => planMigrate(loaded, projectReader(loaded), { force: options.force, onProgress }));
  return settlePlan("migrate", plan, context);
}

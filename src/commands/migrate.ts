import { Command } from "commander";
import type { ExitCode } from "../errors.js";
import { clientOption, parseClientOptions } from "./client-options.js";
import { migrateNext } from "./next-step.js";
import type { CommandContext } from "./settle-plan.js";
import { setupFacts } from "./summary.js";
import { WRITING_EXIT_CODES, exitCodesHelp, withProgress, withSharedOptions, type ActionRunner } from "./shared.js";

export function migrateCommand(run: ActionRunner<CommandContext>): Command {
  return withSharedOptions(
    new Command("migrate").description("route client sockets and sends through the router, and make the party (PartyServer: the class) lead its shards"),
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
  const { loadProject } = await import("../core/project.js");
  const { settlePlan } = await import("./settle-plan.js");
  const { projectReader } = await import("../infra/project-reader.js");
  const project = await loadProject(options.cwd, { config: options.config, platform: options.platform });
  const read = projectReader(project.config);
  const migrateOptions = { force: options.force, vendor: options.vendor, writes, clientDirs };
  const plan =
    project.platform === "partyserver"
      ? await withProgress(context.progress, async (onProgress) => (await import("../core/partyserver/plan-migrate-partyserver.js")).planMigratePartyServer(project.config, read, { ...migrateOptions, onProgress }))
      : await withProgress(context.progress, async (onProgress) => (await import("../core/migrate/plan-migrate.js")).planMigrate(project.config, read, { ...migrateOptions, onProgress }));
  const devServer = project.platform === "partyserver" ? "wrangler dev" : "partykit dev";
  return settlePlan("migrate", plan, context, { platform: project.platform, ...setupFacts(plan.setup), next: (left) => migrateNext(left, devServer) });
}

import { Command } from "commander";
import type { ExitCode } from "../errors.js";
import type { ActionRunner, CommandContext } from "./context.js";
import { WRITING_FLAGS, withFlags, type OptionsOf } from "./flags.js";
import { migrateNext } from "./next-step.js";
import { setupFacts } from "./summary.js";
import { WRITING_EXIT_CODES, exitCodesHelp, withProgress } from "./shared.js";

const MIGRATE_FLAGS = [...WRITING_FLAGS, "client", "writes"] as const;

export function migrateCommand(run: ActionRunner): Command {
  return withFlags(new Command("migrate").description("route client sockets and sends through the router, and make the party (PartyServer: the class) lead its shards"), MIGRATE_FLAGS)
    .addHelpText("after", `\nExamples:\n  $ party-shard migrate --dry-run\n  $ party-shard migrate --yes --json\n${exitCodesHelp(WRITING_EXIT_CODES)}`)
    .action(run(MIGRATE_FLAGS, migrate));
}

export async function migrate(context: CommandContext<OptionsOf<typeof MIGRATE_FLAGS>>): Promise<ExitCode> {
  const { options } = context;
  // ts-morph is loaded only when a command needs it, so --help and flag errors stay fast.
  const { loadProject } = await import("../core/project.js");
  const { settlePlan } = await import("./settle-plan.js");
  const { projectReader } = await import("../infra/project-reader.js");
  const project = await loadProject(options.cwd, { config: options.config, platform: options.platform });
  const read = projectReader(project.config);
  const migrateOptions = { force: options.force, vendor: options.vendor, writes: options.writes, clientDirs: options.client };
  const plan =
    project.platform === "partyserver"
      ? await withProgress(context.progress, async (onProgress) => (await import("../core/partyserver/plan-migrate-partyserver.js")).planMigratePartyServer(project.config, read, { ...migrateOptions, onProgress }))
      : await withProgress(context.progress, async (onProgress) => (await import("../core/migrate/plan-migrate.js")).planMigrate(project.config, read, { ...migrateOptions, onProgress }));
  const devServer = project.platform === "partyserver" ? "wrangler dev" : "partykit dev";
  return settlePlan("migrate", plan, context, { platform: project.platform, ...setupFacts(plan.setup), next: (left) => migrateNext(left, devServer) });
}

import { Command } from "commander";
import type { ExitCode } from "../errors.js";
import { refuseUnsupportedVersions } from "../core/versions/version-findings.js";
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
  const { openProject } = await import("../platforms/index.js");
  const { settlePlan } = await import("./settle-plan.js");
  const project = await openProject(options.cwd, options);
  const migrateOptions = { force: options.force, vendor: options.vendor, writes: options.writes, clientDirs: options.client };
  const plan = await withProgress(context.progress, (onProgress) => project.planMigrate({ ...migrateOptions, onProgress }));
  refuseUnsupportedVersions(plan, "migrate");
  return settlePlan("migrate", plan, context, { platform: project.platform, ...setupFacts(plan.setup), next: (left) => migrateNext(left, project.devServer) });
}

import { Command } from "commander";
import { PartyShardError, type ExitCode } from "../errors.js";
import type { WritesMode } from "../core/migrate/client/plan-client.js";
import type { CommandContext } from "./settle-plan.js";
import { withProgress, withSharedOptions, type ActionRunner } from "./shared.js";

export function migrateCommand(run: ActionRunner<CommandContext>): Command {
  return withSharedOptions(
    new Command("migrate").description("route client sockets and sends through the router, and run onMessage for routed writes on every shard"),
  )
    .option("--writes <mode>", "how routed sockets write: routed (sendViaRouter, a POST through the router) or socket (socket.send, relayed by its shard)", "routed")
    .addHelpText("after", "\nExamples:\n  $ party-shard migrate --dry-run\n  $ party-shard migrate --yes --json\n")
    .action(run(migrate));
}

const WRITES_MODES: readonly WritesMode[] = ["routed", "socket"];

export async function migrate(context: CommandContext, raw: Record<string, unknown>): Promise<ExitCode> {
  const { options } = context;
  // Checked before anything is loaded or read, so a typo fails fast.
  const writes = WRITES_MODES.find((mode) => mode === raw.writes);
  if (!writes) throw new PartyShardError(`--writes must be one of ${WRITES_MODES.join(", ")}; got "${String(raw.writes)}".`);
  // ts-morph is loaded only when a command needs it, so --help and flag errors stay fast.
  const { loadConfig } = await import("../core/config/load-config.js");
  const { planMigrate } = await import("../core/migrate/plan-migrate.js");
  const { settlePlan } = await import("./settle-plan.js");
  const { projectReader } = await import("../infra/project-reader.js");
  const loaded = await loadConfig(options.cwd, options.config);
  const plan = await withProgress(context.progress, (onProgress) => planMigrate(loaded, projectReader(loaded), { force: options.force, writes, onProgress }));
  return settlePlan("migrate", plan, context);
}

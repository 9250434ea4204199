import { statSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { PartyShardError, type ExitCode } from "../errors.js";
import type { WritesMode } from "../core/migrate/client/plan-client.js";
import type { CommandContext } from "./settle-plan.js";
import { WRITING_EXIT_CODES, exitCodesHelp, withProgress, withSharedOptions, type ActionRunner } from "./shared.js";

export function migrateCommand(run: ActionRunner<CommandContext>): Command {
  return withSharedOptions(
    new Command("migrate").description("route client sockets and sends through the router, and make the party lead its shards"),
  )
    .addOption(
      new Option("--client <dir>", "look for client code in this folder only (repeatable)")
        .argParser((dir: string, dirs: string[]) => [...dirs, dir])
        .default([], "the whole repository around the config"),
    )
    .option("--writes <mode>", "how routed sockets write: routed (sendViaRouter, a POST through the router) or socket (socket.send, relayed by its shard)", "routed")
    .addHelpText("after", `\nExamples:\n  $ party-shard migrate --dry-run\n  $ party-shard migrate --yes --json\n${exitCodesHelp(WRITING_EXIT_CODES)}`)
    .action(run(migrate));
}

const WRITES_MODES: readonly WritesMode[] = ["routed", "socket"];

/** `--writes`, checked before anything is loaded or read, so a typo fails fast (exit 2). */
export function parseWritesOption(value: unknown): WritesMode {
  const mode = WRITES_MODES.find((known) => known === value);
  if (!mode) throw new PartyShardError(`--writes must be one of ${WRITES_MODES.join(", ")}; got "${String(value)}".`);
  return mode;
}

export async function migrate(context: CommandContext, raw: Record<string, unknown>): Promise<ExitCode> {
  const { options } = context;
  const writes = parseWritesOption(raw.writes);
  const clientDirs = clientFolders(raw.client, options.cwd);
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

/** The `--client` folders, resolved from --cwd: each must be a folder, or nothing is read. */
function clientFolders(value: unknown, cwd: string): string[] {
  return (Array.isArray(value) ? value.map(String) : []).map((dir) => {
    const resolved = path.resolve(cwd, dir);
    if (!statSync(resolved, { throwIfNoEntry: false })?.isDirectory()) {
      throw new PartyShardError(`--client ${dir} is not a folder (${resolved}).`, { hint: "Pass the folder that holds client code, e.g. --client web or --client apps/web/src." });
    }
    return resolved;
  });
}

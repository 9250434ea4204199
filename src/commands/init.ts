import path from "node:path";
import { Command } from "commander";
import type { ExitCode } from "../errors.js";
import { refuseUnsupportedVersions } from "../core/versions/version-findings.js";
import { namesFile } from "../platforms/adapter.js";
import type { ActionRunner, CommandContext } from "./context.js";
import { WRITING_FLAGS, withFlags, type OptionsOf } from "./flags.js";
import { askShards, initFacts } from "./init-intro.js";
import { WRITING_EXIT_CODES, exitCodesHelp } from "./shared.js";

const INIT_FLAGS = ["party", "shards", "shardTarget", "name", "out", ...WRITING_FLAGS] as const;

export function initCommand(run: ActionRunner): Command {
  return withFlags(new Command("init").description("add a router party to the PartyKit config and generate the router file (PartyServer: the router's binding and the runtime)"), INIT_FLAGS)
    .addHelpText("after", `\nExamples:\n  $ party-shard init --shards 8 --dry-run\n  $ party-shard init --shards 16 --shard-target 250\n  $ party-shard init --party chat --yes --json\n${exitCodesHelp(WRITING_EXIT_CODES)}`)
    .action(run(INIT_FLAGS, init));
}

export async function init(context: CommandContext<OptionsOf<typeof INIT_FLAGS>>): Promise<ExitCode> {
  const { options, prompts } = context;
  const { openProject } = await import("../platforms/index.js");
  const { settlePlan } = await import("./settle-plan.js");
  const project = await openProject(options.cwd, options);
  const request = { party: partyOption(options.party, options.cwd), shards: options.shards, shardTarget: options.shardTarget, name: options.name, out: options.out, force: options.force, vendor: options.vendor };
  const party = await project.chooseParty(request, { prompts, info: (text) => context.logger.info(text) });
  // Without --shards a non-interactive run keeps an existing router's count (or the default);
  // the question starts from that count, so pressing enter changes nothing.
  const shards = request.shards ?? (prompts.interactive ? await askShards(prompts, await project.shardCount({ party, name: request.name })) : undefined);
  const plan = await project.planInit({ ...request, party, shards });
  refuseUnsupportedVersions(plan, "init");
  return settlePlan("init", plan, context, initFacts(project.platform, plan));
}

/** `--party` as the planners take it: a name as given, a file resolved from the folder init runs in. */
function partyOption(value: string | undefined, cwd: string): string | undefined {
  if (value === undefined) return undefined;
  return namesFile(value) ? path.resolve(cwd, value) : value;
}

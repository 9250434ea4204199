import path from "node:path";
import { Command } from "commander";
import { PartyShardError, type ExitCode } from "../errors.js";
import type { LoadedWrangler } from "../core/config/wrangler/loaded-wrangler.js";
import { ROUTER_BINDING } from "../core/partyserver/names.js";
import type { InitOptions } from "../core/init/plan-init.js";
import type { LoadedConfig } from "../core/config/load-config.js";
import { routerShardCount } from "../core/init/render-router.js";
import type { ActionRunner, CommandContext } from "./context.js";
import { WRITING_FLAGS, withFlags, type OptionsOf } from "./flags.js";
import { askShards, foundPartyKitParty, initFacts } from "./init-intro.js";
import { WRITING_EXIT_CODES, exitCodesHelp } from "./shared.js";

const INIT_FLAGS = ["party", "shards", "name", "out", ...WRITING_FLAGS] as const;
type InitFlags = OptionsOf<typeof INIT_FLAGS>;

export function initCommand(run: ActionRunner): Command {
  return withFlags(new Command("init").description("add a router party to the PartyKit config and generate the router file (PartyServer: the router's binding and the runtime)"), INIT_FLAGS)
    .addHelpText("after", `\nExamples:\n  $ party-shard init --shards 8 --dry-run\n  $ party-shard init --party chat --yes --json\n${exitCodesHelp(WRITING_EXIT_CODES)}`)
    .action(run(INIT_FLAGS, init));
}

export async function init(context: CommandContext<InitFlags>): Promise<ExitCode> {
  const { options, prompts } = context;
  // ts-morph is loaded only when a command needs it, so --help and flag errors stay fast.
  const { loadProject } = await import("../core/project.js");
  const project = await loadProject(options.cwd, { config: options.config, platform: options.platform });
  if (project.platform === "partyserver") return initPartyServer(context, project.config);
  const { planInit } = await import("../core/init/plan-init.js");
  const { settlePlan } = await import("./settle-plan.js");
  const loaded = project.config;
  const { projectReader } = await import("../infra/project-reader.js");
  const read = projectReader(loaded);
  const asksParty = options.party === undefined && prompts.interactive && Object.keys(loaded.config.parties).length > 0;
  context.logger.info(await foundPartyKitParty(loaded, asksParty ? undefined : partyOption(options.party, options.cwd), asksParty, read));
  // Without --party, planInit takes main only if it is a source with WebSocket handlers.
  const party = asksParty
    ? await prompts.select("Which party should be sharded?", ["main", ...Object.keys(loaded.config.parties)], "main")
    : partyOption(options.party, options.cwd);
  const { name } = options;
  // Without --shards a non-interactive run keeps an existing router's count (or the default);
  // the question starts from that count, so pressing enter changes nothing.
  const shards =
    options.shards ?? (prompts.interactive ? await askShards(prompts, await currentShardCount(loaded, read, party === undefined || isFile(party) ? "main" : party, name)) : undefined);
  const initOptions: InitOptions = {
    party,
    shards,
    name,
    out: options.out,
    force: options.force,
    vendor: options.vendor,
  };
  const plan = await planInit(loaded, initOptions, read);
  return settlePlan("init", plan, context, initFacts("partykit", plan));
}

/** init on a PartyServer project: the router's binding and migration, the runtime beside the class, main's export. */
async function initPartyServer(context: CommandContext<InitFlags>, loaded: LoadedWrangler): Promise<ExitCode> {
  const { options, prompts } = context;
  for (const flag of ["name", "out"] as const) {
    if (options[flag] !== undefined) throw new PartyShardError(`--${flag} is for PartyKit projects; on PartyServer the router is the ${ROUTER_BINDING} binding, and its runtime goes beside the sharded class.`, { hint: `Drop --${flag}.` });
  }
  const { planInitPartyServer, currentShardCount: runtimeShardCount, shardableBindings, classToShard } = await import("../core/partyserver/plan-init-partyserver.js");
  const { settlePlan } = await import("./settle-plan.js");
  const { projectReader } = await import("../infra/project-reader.js");
  const read = projectReader(loaded);
  // Asked only when there is a choice; without a terminal, several candidates stop init (exit 2) listing them.
  const candidates = options.party === undefined && prompts.interactive ? await shardableBindings(loaded, read) : [];
  const flagParty = partyOption(options.party, options.cwd);
  if (candidates.length > 1) context.logger.info(`Found a PartyServer app (${loaded.file}) with ${candidates.length} classes to shard: ${candidates.join(", ")}.`);
  else {
    const found = await classToShard(loaded, flagParty, read);
    context.logger.info(`Found the ${found.className} class (binding ${found.binding}, ${found.file}) in a PartyServer app (${loaded.file}).`);
  }
  const party = candidates.length > 1 ? await prompts.select("Which class should be sharded?", candidates, candidates[0]!) : flagParty;
  const shards = options.shards ?? (prompts.interactive ? await askShards(prompts, await runtimeShardCount(loaded, party, read)) : undefined);
  const plan = await planInitPartyServer(loaded, { party, shards, force: options.force, vendor: options.vendor }, read);
  return settlePlan("init", plan, context, initFacts("partyserver", plan));
}

/** `--party` as planInit takes it: a name as given, a file resolved from the folder init runs in. */
function partyOption(value: string | undefined, cwd: string): string | undefined {
  if (value === undefined) return undefined;
  return isFile(value) ? path.resolve(cwd, value) : value;
}

/** Party names have no dots or slashes (PARTY_NAME_PATTERN); a file has one or the other. */
const isFile = (value: string) => /[./\\]/.test(value);

/** The count of the router `init` would update, if there is one; planInit checks the rest. */
async function currentShardCount(loaded: LoadedConfig, read: (file: string) => Promise<string | null>, party: string, name?: string) {
  const routerName = name ?? (party === "main" ? "router" : `${party}-router`);
  const entry = Object.hasOwn(loaded.config.parties, routerName) ? loaded.config.parties[routerName] : undefined;
  if (typeof entry !== "string") return undefined;
  const text = await read(path.posix.normalize(entry.replaceAll("\\", "/"))).catch(() => null);
  return text === null ? undefined : routerShardCount(text);
}

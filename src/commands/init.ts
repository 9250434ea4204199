import path from "node:path";
import { Command } from "commander";
import { PartyShardError, type ExitCode } from "../errors.js";
import type { LoadedWrangler } from "../core/config/wrangler/loaded-wrangler.js";
import { ROUTER_BINDING } from "../core/partyserver/names.js";
import type { InitOptions } from "../core/init/plan-init.js";
import type { LoadedConfig } from "../core/config/load-config.js";
import { DEFAULT_SHARDS, routerShardCount } from "../core/init/render-router.js";
import { MAX_SHARDS, askShards, foundPartyKitParty, initFacts } from "./init-intro.js";
import type { CommandContext } from "./settle-plan.js";
import { WRITING_EXIT_CODES, exitCodesHelp, parseIntegerOption, withSharedOptions, type ActionRunner } from "./shared.js";

export function initCommand(run: ActionRunner<CommandContext>): Command {
  return withSharedOptions(
    new Command("init")
      .description("add a router party to the PartyKit config and generate the router file (PartyServer: the router's binding and the runtime)")
      .option("--party <name|file>", "party to shard, by name or file (default: main, if it is a source with WebSocket handlers; PartyServer: a binding, its URL name or its class's file, default: the one class with socket handlers)")
      .option("--shards <n>", `number of shards, 1-${MAX_SHARDS} (default: the router's current count, else ${DEFAULT_SHARDS})`)
      .option("--name <name>", "router party name (default: router, or <party>-router)")
      .option("--out <path>", "router file (default: next to main)"),
  )
    .addHelpText("after", `\nExamples:\n  $ party-shard init --shards 8 --dry-run\n  $ party-shard init --party chat --yes --json\n${exitCodesHelp(WRITING_EXIT_CODES)}`)
    .action(run(init));
}

export async function init(context: CommandContext, raw: Record<string, unknown>): Promise<ExitCode> {
  const { options, prompts } = context;
  // Flags are checked before anything is loaded or read, so a typo fails fast.
  const flagShards = raw.shards === undefined ? undefined : parseIntegerOption("--shards", raw.shards, 1, MAX_SHARDS);
  // ts-morph is loaded only when a command needs it, so --help and flag errors stay fast.
  const { loadProject } = await import("../core/project.js");
  const project = await loadProject(options.cwd, { config: options.config, platform: options.platform });
  if (project.platform === "partyserver") return initPartyServer(context, project.config, raw, flagShards);
  const { planInit } = await import("../core/init/plan-init.js");
  const { settlePlan } = await import("./settle-plan.js");
  const loaded = project.config;
  const { projectReader } = await import("../infra/project-reader.js");
  const read = projectReader(loaded);
  const asksParty = raw.party === undefined && prompts.interactive && Object.keys(loaded.config.parties).length > 0;
  context.logger.info(await foundPartyKitParty(loaded, asksParty ? undefined : partyOption(raw.party, options.cwd), asksParty, read));
  // Without --party, planInit takes main only if it is a source with WebSocket handlers.
  const party = asksParty
    ? await prompts.select("Which party should be sharded?", ["main", ...Object.keys(loaded.config.parties)], "main")
    : partyOption(raw.party, options.cwd);
  const name = typeof raw.name === "string" ? raw.name : undefined;
  // Without --shards a non-interactive run keeps an existing router's count (or the default);
  // the question starts from that count, so pressing enter changes nothing.
  const shards =
    flagShards ?? (prompts.interactive ? await askShards(prompts, await currentShardCount(loaded, read, party === undefined || isFile(party) ? "main" : party, name)) : undefined);
  const initOptions: InitOptions = {
    party,
    shards,
    name,
    out: typeof raw.out === "string" ? path.resolve(options.cwd, raw.out) : undefined,
    force: options.force,
    vendor: options.vendor,
  };
  const plan = await planInit(loaded, initOptions, read);
  return settlePlan("init", plan, context, initFacts("partykit", plan));
}

/** init on a PartyServer project: the router's binding and migration, the runtime beside the class, main's export. */
async function initPartyServer(context: CommandContext, loaded: LoadedWrangler, raw: Record<string, unknown>, flagShards: number | undefined): Promise<ExitCode> {
  const { options, prompts } = context;
  for (const flag of ["name", "out"] as const) {
    if (raw[flag] !== undefined) throw new PartyShardError(`--${flag} is for PartyKit projects; on PartyServer the router is the ${ROUTER_BINDING} binding, and its runtime goes beside the sharded class.`, { hint: `Drop --${flag}.` });
  }
  const { planInitPartyServer, currentShardCount: runtimeShardCount, shardableBindings, classToShard } = await import("../core/partyserver/plan-init-partyserver.js");
  const { settlePlan } = await import("./settle-plan.js");
  const { projectReader } = await import("../infra/project-reader.js");
  const read = projectReader(loaded);
  // Asked only when there is a choice; without a terminal, several candidates stop init (exit 2) listing them.
  const candidates = raw.party === undefined && prompts.interactive ? await shardableBindings(loaded, read) : [];
  const flagParty = typeof raw.party === "string" ? (isFile(raw.party) ? path.resolve(options.cwd, raw.party) : raw.party) : undefined;
  if (candidates.length > 1) context.logger.info(`Found a PartyServer app (${loaded.file}) with ${candidates.length} classes to shard: ${candidates.join(", ")}.`);
  else {
    const found = await classToShard(loaded, flagParty, read);
    context.logger.info(`Found the ${found.className} class (binding ${found.binding}, ${found.file}) in a PartyServer app (${loaded.file}).`);
  }
  const party = candidates.length > 1 ? await prompts.select("Which class should be sharded?", candidates, candidates[0]!) : flagParty;
  const shards = flagShards ?? (prompts.interactive ? await askShards(prompts, await runtimeShardCount(loaded, party, read)) : undefined);
  const plan = await planInitPartyServer(loaded, { party, shards, force: options.force, vendor: options.vendor }, read);
  return settlePlan("init", plan, context, initFacts("partyserver", plan));
}

/** `--party` as planInit takes it: a name as given, a file resolved from the folder init runs in. */
function partyOption(value: unknown, cwd: string): string | undefined {
  if (value === undefined) return undefined;
  return isFile(String(value)) ? path.resolve(cwd, String(value)) : String(value);
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

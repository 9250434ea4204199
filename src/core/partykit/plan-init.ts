import path from "node:path";
import { PartyShardError } from "../../errors.js";
import { addPartyEntry } from "../config/add-party-entry.js";
import { generatedFileChange, readTarget, refuseToolFolder } from "../generated-file.js";
import { findProperty, locate } from "../config/config-document.js";
import type { LoadedConfig } from "../config/load-config.js";
import type { InitOptions } from "../plan.js";
import { configFilePath } from "../config/party-file.js";
import { buildOutputReason } from "./build-output.js";
import { leadsShards } from "./party-handlers.js";
import { chooseParty } from "./choose-party.js";
import type { FileChange, Finding, InitPlan } from "../plan.js";
import type { ProjectReader, ReadFile } from "../read-file.js";
import { relativeImport } from "../code-style.js";
import { GLUE_FILE_NAME, renderGlue } from "./render-glue.js";
import { withRuntimeDependency } from "../runtime-dependency.js";
import { SERVER_PACKAGES } from "../versions/supported.js";
import { versionFindings } from "../versions/version-findings.js";
import { chooseRuntimeMode, vendoredChanges } from "../runtime-files.js";
import { DEFAULT_SHARD_TARGET, DEFAULT_SHARDS } from "../shard-count.js";
import { isGeneratedFile } from "../generated-file.js";
import { defaultRouterName, isGeneratedRouter, renderRouter, routerShardCount, routerShardTarget } from "./render-router.js";

// What init plans from: one shape on both platforms (core/plan.ts), exported here as before.
export type { InitOptions };


export const PARTY_NAME_PATTERN = /^[A-Za-z0-9][\w-]*$/;

/** What `init` would change: the config's `parties` entry and the router file. Writes nothing. */
export async function planInit(loaded: LoadedConfig, options: InitOptions, reader: ProjectReader): Promise<InitPlan> {
  const { read, own } = reader;
  const { config, file } = loaded;
  const location = (key: string) => {
    const property = findProperty(loaded.document.config, key);
    return { file, ...(property ? locate(loaded.document, property) : {}) };
  };
  // The party's file is checked before anything is planned: a router for a missing party, or
  // for a build output or a party without sockets, is no use.
  const { party, file: partyFile, text: partyText } = await chooseParty(loaded, options.party, read);
  const name = options.name ?? defaultRouterName(party);
  if (!PARTY_NAME_PATTERN.test(name) || name === "main" || name === party) {
    throw new PartyShardError(`--name ${name} cannot be the router's party name.`, {
      hint: "Use letters, digits, - or _, and a name other than main or the sharded party.",
    });
  }

  const existingEntry = Object.hasOwn(config.parties, name) ? config.parties[name] : undefined;
  // Beside main, unless main is a build output: then beside the party's (source) file.
  const mainFile = configFilePath(config.main);
  const besides = partyFile !== mainFile && (party === "main" || buildOutputReason(mainFile, "")) ? partyFile : config.main;
  const out = normalizeOut(loaded, options.out ?? existingEntry ?? defaultOut(besides, name));
  const glueFile = path.posix.join(path.posix.dirname(out), GLUE_FILE_NAME);
  const current = await readRouterTarget(loaded, { out, glueFile, routerName: name }, read);
  // An entry of that name is ours only if it points at `out` and that file is a party-shard router.
  const takenByOther =
    existingEntry !== undefined &&
    (normalizeOut(loaded, existingEntry) !== out || current === null || !isGeneratedRouter(current));
  if (takenByOther) {
    throw new PartyShardError(`The party name "${name}" is already used by ${existingEntry} in ${file}.`, {
      location: location("parties"),
      hint: "Pick another router name with --name.",
    });
  }

  const changes: FileChange[] = [];
  if (existingEntry === undefined) {
    const after = addPartyEntry(loaded.document, name, configPath(config.main, out));
    changes.push({ path: file, before: loaded.document.text, after });
  }
  // The router imports the party (for its own static hooks) and the runtime beside it.
  const shardCount = options.shards ?? (current !== null ? routerShardCount(current) : undefined) ?? DEFAULT_SHARDS;
  const shardTarget = options.shardTarget ?? (current !== null ? routerShardTarget(current) : undefined) ?? DEFAULT_SHARD_TARGET;
  const router = renderRouter({
    shardedParty: party,
    routerParty: name,
    shardCount,
    shardTarget,
    partyImport: relativeImport(out, partyFile, partyText).replace(/\.tsx?$/, ""),
    glueImport: relativeImport(out, glueFile, partyText),
  }, own);
  const mode = chooseRuntimeMode(options.vendor, await readTarget(glueFile, read));
  for (const [file, contents, existing] of [
    [out, router, async () => current],
    [glueFile, renderGlue({ shardedParty: party, routerParty: name, mode }, own), read],
  ] as const) {
    const change = await generatedFileChange(file, contents, existing, options.force);
    if (change) changes.push(change);
  }
  const vendored = await vendoredChanges("partykit", glueFile, mode, reader, options.force);
  changes.push(...vendored.changes);
  const planned = await withRuntimeDependency(changes, mode === "package" ? [glueFile] : [], reader, loaded.root);
  const findings: Finding[] =
    planned.changes.length === 0
      ? [{ level: "info", code: "up-to-date", message: `The "${name}" router for party "${party}" is already set up.` }]
      : [...planned.findings, ...vendored.findings];
  findings.push(...versionFindings(reader.disk, loaded.root, loaded.root, SERVER_PACKAGES.partykit));
  const setup = { party, file: partyFile, shards: shardCount };
  return { root: loaded.root, changes: planned.changes, findings, setup, migrated: leadsShards(partyFile, partyText) };
}

function defaultOut(main: string, name: string): string {
  return path.posix.join(path.posix.dirname(main.replaceAll("\\", "/")), `${name}.ts`);
}

/** Root-relative POSIX path; refuses anything outside the project root or inside .git and node_modules. */
function normalizeOut(loaded: LoadedConfig, out: string): string {
  const absolute = path.resolve(loaded.root, out);
  const relative = path.relative(loaded.root, absolute);
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) {
    const where = relative === "" ? "is the project root folder" : `is outside the project root ${loaded.root}`;
    throw new PartyShardError(`The router file ${out} ${where}.`, {
      hint: "Pass an --out path to a file inside the project, e.g. src/router.ts.",
    });
  }
  const normalized = relative.split(path.sep).join("/");
  refuseToolFolder(normalized);
  return normalized;
}

/**
 * The text now at the router's path (null for none), after refusing a path the router may not
 * take: the config, a party's file, its own runtime, or another file party-shard generated.
 */
async function readRouterTarget(loaded: LoadedConfig, target: { out: string; glueFile: string; routerName: string }, read: ReadFile): Promise<string | null> {
  const { out, glueFile, routerName } = target;
  const owners = new Map([[loaded.file, "the PartyKit config"], ["package.json", "package.json"], [glueFile, "party-shard's server runtime"]]);
  for (const [party, file] of Object.entries({ main: loaded.config.main, ...loaded.config.parties })) {
    if (party !== routerName) owners.set(configFilePath(file), `the file of party "${party}"`);
  }
  const current = await readTarget(out, read);
  const taken = owners.get(out) ?? (current !== null && isGeneratedFile(current) && !isGeneratedRouter(current) ? "another file party-shard generated" : undefined);
  if (taken) {
    throw new PartyShardError(`The router file ${out} would replace ${taken}.`, {
      hint: "Pass an --out path to a new file, e.g. src/router.ts.",
    });
  }
  return current;
}

/** Written the way the config already writes `main`: with or without a leading `./`. */
function configPath(main: string, out: string): string {
  return main.startsWith("./") ? `./${out}` : out;
}

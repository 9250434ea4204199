import path from "node:path";
import { PartyShardError } from "../../errors.js";
import { addPartyEntry } from "../config/add-party-entry.js";
import { generatedFileChange } from "../generated-file.js";
import { findProperty, locate } from "../config/config-document.js";
import type { LoadedConfig } from "../config/load-config.js";
import type { FileChange, Finding, Plan } from "../plan.js";
import { relativeImport } from "../code-style.js";
import { GLUE_FILE_NAME, renderGlue } from "../migrate/server/render-glue.js";
import { DEFAULT_SHARDS, isGeneratedRouter, renderRouter, routerShardCount } from "./render-router.js";

export interface InitOptions {
  /** The party to shard; `main` is the config's `main` entry. */
  party: string;
  /** Shard count; by default the existing router's, or DEFAULT_SHARDS for a new one. */
  shards?: number;
  /** Router party name; defaults to `router`, or `<party>-router` for a party other than main. */
  name?: string;
  /** Router file relative to the project root; defaults to next to `main`. */
  out?: string;
  force: boolean;
}

/** Reads a project file by its root-relative path; null when it does not exist. */
export type ReadFile = (relativePath: string) => Promise<string | null>;

export const PARTY_NAME_PATTERN = /^[A-Za-z0-9][\w-]*$/;

/** What `init` would change: the config's `parties` entry and the router file. Writes nothing. */
export async function planInit(loaded: LoadedConfig, options: InitOptions, read: ReadFile): Promise<Plan> {
  const { config, file } = loaded;
  const location = (key: string) => {
    const property = findProperty(loaded.document.config, key);
    return { file, ...(property ? locate(loaded.document, property) : {}) };
  };
  if (options.party !== "main" && !(options.party in config.parties)) {
    const known = ["main", ...Object.keys(config.parties)].join(", ");
    throw new PartyShardError(`--party ${options.party} is not a party in ${file} (it has: ${known}).`, {
      location: location("parties"),
    });
  }
  const name = options.name ?? (options.party === "main" ? "router" : `${options.party}-router`);
  if (!PARTY_NAME_PATTERN.test(name) || name === "main" || name === options.party) {
    throw new PartyShardError(`--name ${name} cannot be the router's party name.`, {
      hint: "Use letters, digits, - or _, and a name other than main or the sharded party.",
    });
  }

  const existingEntry = config.parties[name];
  const out = normalizeOut(loaded, options.out ?? existingEntry ?? defaultOut(config.main, name));
  const current = await read(out);
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
  const partyFile = (options.party === "main" ? config.main : config.parties[options.party]!).replace(/^\.\//, "");
  const glueFile = path.posix.join(path.posix.dirname(out), GLUE_FILE_NAME);
  const partyText = (await read(partyFile)) ?? "";
  const router = renderRouter({
    shardedParty: options.party,
    routerParty: name,
    shardCount: options.shards ?? (current !== null ? routerShardCount(current) : undefined) ?? DEFAULT_SHARDS,
    partyImport: relativeImport(out, partyFile, partyText).replace(/\.tsx?$/, ""),
    glueImport: relativeImport(out, glueFile, partyText),
  });
  for (const [file, contents, existing] of [
    [out, router, async () => current],
    [glueFile, renderGlue({ shardedParty: options.party, routerParty: name }), read],
  ] as const) {
    const change = await generatedFileChange(file, contents, existing, options.force);
    if (change) changes.push(change);
  }
  const findings: Finding[] =
    changes.length === 0
      ? [{ level: "info", code: "up-to-date", message: `The "${name}" router for party "${options.party}" is already set up.` }]
      : [];
  return { root: loaded.root, changes, findings };
}

function defaultOut(main: string, name: string): string {
  return path.posix.join(path.posix.dirname(main.replaceAll("\\", "/")), `${name}.ts`);
}

/** Root-relative POSIX path; refuses anything outside the project root. */
function normalizeOut(loaded: LoadedConfig, out: string): string {
  const absolute = path.resolve(loaded.root, out);
  const relative = path.relative(loaded.root, absolute);
  if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) {
    throw new PartyShardError(`The router file ${out} is outside the project root ${loaded.root}.`, {
      hint: "Pass an --out path inside the project.",
    });
  }
  return relative.split(path.sep).join("/");
}

/** Written the way the config already writes `main`: with or without a leading `./`. */
function configPath(main: string, out: string): string {
  return main.startsWith("./") ? `./${out}` : out;
}

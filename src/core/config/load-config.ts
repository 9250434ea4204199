import path from "node:path";
import { PartyShardError } from "../../errors.js";
import { findUp } from "../find-up.js";
import { readConfigText, type Disk } from "../read-file.js";
import { findProperty, locate, parseConfigDocument, type ConfigDocument } from "./config-document.js";
import { refuseDuplicateKeys } from "./duplicate-keys.js";
import { parseJson5 } from "./parse-json5.js";

/** The parts of a PartyKit config party-shard reads. */
export interface PartyKitConfig {
  name?: string;
  main: string;
  parties: Record<string, string>;
}

export interface LoadedConfig {
  /** The project root: the folder the config file is in. */
  root: string;
  /** The config file, relative to `root`. */
  file: string;
  inPackageJson: boolean;
  document: ConfigDocument;
  config: PartyKitConfig;
}

// The order `partykit` itself looks for its config in.
const CONFIG_NAMES = ["partykit.json", "partykit.json5", "partykit.jsonc"];

/** Finds and reads the PartyKit config the way `partykit` does, or from `--config`. */
export async function loadConfig(disk: Disk, cwd: string, explicit?: string): Promise<LoadedConfig> {
  const file = explicit ? path.resolve(cwd, explicit) : await findConfigFile(disk, cwd);
  if (!file) {
    throw new PartyShardError(`No PartyKit config found in ${cwd} or any folder above it.`, {
      hint: `Run party-shard in a PartyKit project (one with ${CONFIG_NAMES.join(", ")} or a "partykit" key in package.json), or pass --cwd/--config.`,
    });
  }
  const text = readConfigText(disk, file, "the PartyKit config");
  return parseConfig(path.dirname(file), path.basename(file), text);
}

/** The pure half of `loadConfig`: validates `text` as the config file `file` in `root`. */
export function parseConfig(root: string, file: string, text: string): LoadedConfig {
  const inPackageJson = file === "package.json";
  const data = parseJson5(text, file, "The config");
  const raw = inPackageJson ? (data as { partykit?: unknown } | null)?.partykit : data;
  if (inPackageJson && raw === undefined) {
    throw new PartyShardError(`${file} has no "partykit" key, so it is not a PartyKit config.`, {
      location: { file },
      hint: "Add the PartyKit config under \"partykit\", or point --config at partykit.json.",
    });
  }
  const document = parseConfigDocument(text, inPackageJson);
  if (!isRecord(raw) || !document) {
    throw new PartyShardError(`${inPackageJson ? `${file}#partykit` : file} must be an object.`, { location: { file } });
  }
  refuseDuplicateKeys(file, document);
  if (typeof raw.main !== "string" || raw.main.trim() === "") {
    throw new PartyShardError(`${file} has no "main" entry: party-shard needs the party it will shard.`, {
      location: { file, ...locate(document, findProperty(document.config, "main") ?? document.config) },
      hint: 'Add "main": "src/server.ts" (your main party) to the config.',
    });
  }
  const parties = raw.parties ?? {};
  if (!isRecord(parties) || !Object.values(parties).every((value) => typeof value === "string")) {
    const property = findProperty(document.config, "parties");
    throw new PartyShardError(`"parties" in ${file} must map party names to files.`, {
      location: { file, ...(property ? locate(document, property) : {}) },
    });
  }
  const config: PartyKitConfig = {
    name: typeof raw.name === "string" ? raw.name : undefined,
    main: raw.main,
    parties: parties as Record<string, string>,
  };
  return { root, file, inPackageJson, document, config };
}

/** The PartyKit config `partykit` would use from `cwd`, or undefined. */
export async function findConfigFile(disk: Disk, cwd: string): Promise<string | undefined> {
  for (const name of CONFIG_NAMES) {
    const found = findUp(disk, cwd, name, "file");
    if (found) return found;
  }
  const packageJson = findUp(disk, cwd, "package.json", "file");
  if (!packageJson) return undefined;
  const text = disk.readText(packageJson);
  return /"partykit"\s*:/.test(text) ? packageJson : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

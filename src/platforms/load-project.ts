import path from "node:path";
import { PartyShardError } from "../errors.js";
import { findConfigFile, loadConfig, type LoadedConfig } from "../core/config/load-config.js";
import type { LoadedWrangler } from "../core/config/wrangler/loaded-wrangler.js";
import { findWranglerConfig, loadWrangler, parseWrangler, WRANGLER_CONFIG_NAMES } from "../core/config/wrangler/load-wrangler.js";
import { findUp } from "../core/find-up.js";
import { readManifest } from "../core/manifest.js";
import type { Platform } from "../core/platform.js";
import type { Disk } from "../core/read-file.js";
import { disk as realDisk } from "../infra/disk.js";

export type { Platform } from "../core/platform.js";

/** A project party-shard works on: a PartyKit one (partykit.json) or a PartyServer one (a Worker's wrangler config). */
export type Project = { platform: "partykit"; config: LoadedConfig } | { platform: "partyserver"; config: LoadedWrangler };

/**
 * Finds the project from `cwd` and tells its platform by the config it has: a PartyKit config
 * means PartyKit, a wrangler config whose project uses `partyserver` means PartyServer. Both or
 * neither is bad input naming what was found; `platform` breaks the tie, and `config` names
 * the file (a wrangler config by its name, or whatever `platform` says).
 *
 * @example const project = await loadProject(process.cwd(), { platform: "partyserver" });
 */
export async function loadProject(cwd: string, options: { config?: string; platform?: Platform } = {}, disk: Disk = realDisk): Promise<Project> {
  const platform = await choosePlatform(disk, cwd, options);
  return platform === "partykit"
    ? { platform, config: await loadConfig(disk, cwd, options.config) }
    : { platform, config: await loadWrangler(disk, cwd, options.config) };
}

/** The platform of the project `loadProject` would load, told as it tells it; reads no more than it must to tell. */
export async function choosePlatform(disk: Disk, cwd: string, options: { config?: string; platform?: Platform } = {}): Promise<Platform> {
  const { config, platform } = options;
  if (config !== undefined) {
    const chosen = platform ?? platformOfName(config);
    refuseNameMismatch(config, chosen);
    return chosen;
  }
  if (platform) return platform;
  const partykit = await findPartyKitConfig(disk, cwd);
  const wrangler = findWranglerConfig(disk, cwd);
  const partyserver = wrangler && usesPartyServer(disk, wrangler) ? wrangler : undefined;
  if (partykit && partyserver) {
    throw new PartyShardError(`Both a PartyKit config (${shown(cwd, partykit)}) and a PartyServer wrangler config (${shown(cwd, partyserver)}) were found, so the platform is not clear.`, {
      hint: "Pass --platform partykit or --platform partyserver, or --config with the file to use.",
    });
  }
  if (partykit) return "partykit";
  if (partyserver) return "partyserver";
  const aside = wrangler ? ` (${shown(cwd, wrangler)} was found, but neither its package.json nor its main module uses partyserver)` : "";
  throw new PartyShardError(`No PartyKit or PartyServer project found in ${cwd} or any folder above it${aside}.`, {
    hint: `Run party-shard in a project with partykit.json (PartyKit) or ${WRANGLER_CONFIG_NAMES.join(", ")} and partyserver (PartyServer); pass --cwd, --config or --platform to point at one.`,
  });
}

/** `--config wrangler.toml` (any wrangler* or .toml name) means PartyServer; anything else is a PartyKit config. */
function platformOfName(file: string): Platform {
  const name = path.basename(file);
  return name.startsWith("wrangler") || name.endsWith(".toml") ? "partyserver" : "partykit";
}

function refuseNameMismatch(file: string, platform: Platform): void {
  const name = path.basename(file);
  const other = platform === "partykit" ? name.startsWith("wrangler") || name.endsWith(".toml") : name.startsWith("partykit");
  if (other) {
    throw new PartyShardError(`--config ${file} is not a ${platform === "partykit" ? "PartyKit" : "wrangler"} config, but --platform ${platform} was given.`, {
      hint: "Drop --platform (the config's name tells it), or point --config at the other file.",
    });
  }
}

/** The PartyKit config partykit would use; a package.json only when it really has a "partykit" key (not just the dependency). */
async function findPartyKitConfig(disk: Disk, cwd: string): Promise<string | undefined> {
  const found = await findConfigFile(disk, cwd);
  if (!found || path.basename(found) !== "package.json") return found;
  return hasKey(readManifest(disk, path.dirname(found)), "partykit") ? found : undefined;
}

/** Packages that are PartyServer, or are built on it (a Worker that uses one of them is a PartyServer one). */
const PARTYSERVER_PACKAGES = ["partyserver", "y-partyserver", "hono-party"];
/** An import of one of them, or of the runtime migrate puts beside main (`./party-shard-server`): a monorepo app may list none in its own package.json, and after migrate main may import partyserver itself no more. */
const PARTYSERVER_IMPORT = /\b(?:from\s*|(?:import|require)\s*\(\s*)["'](?:partyserver|y-partyserver(?:\/[\w-]+)?|hono-party|\.\/party-shard-server(?:\.[jt]s)?)["']/;

/**
 * Whether the Worker of this wrangler config is a PartyServer one: its package.json depends on
 * one of PARTYSERVER_PACKAGES, or its main module imports one (or the generated runtime). Reads
 * two files; never looks into node_modules.
 */
function usesPartyServer(disk: Disk, wranglerFile: string): boolean {
  const root = path.dirname(wranglerFile);
  const packageJson = findUp(disk, root, "package.json", "file");
  const manifest = packageJson ? readManifest(disk, path.dirname(packageJson)) : undefined;
  const fields = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"] as const;
  if (fields.some((field) => PARTYSERVER_PACKAGES.some((name) => hasKey(manifest?.[field], name)))) return true;
  try {
    const main = parseWrangler(root, path.basename(wranglerFile), disk.readText(wranglerFile)).main;
    return PARTYSERVER_IMPORT.test(disk.readText(path.join(root, main)));
  } catch {
    // A config that does not read, or a main that is not there: not recognisably PartyServer.
    // `--platform partyserver` then reports exactly what is wrong with it.
    return false;
  }
}

function hasKey(value: unknown, key: string): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && key in value;
}

/** A found file as the user would type it from `cwd`. */
function shown(cwd: string, file: string): string {
  return path.relative(cwd, file) || file;
}

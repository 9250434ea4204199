import path from "node:path";
import { PartyShardError } from "../../errors.js";
import type { LoadedConfig } from "../config/load-config.js";
import { configFilePath, insideRoot, readPartyFile } from "../config/party-file.js";
import { isGeneratedRouter, routerShardCount } from "./render-router.js";
import type { ReadFile } from "../read-file.js";

export interface RouterSetup {
  /** The router's party name, as in the config. */
  routerParty: string;
  /** Root-relative path of the router file. */
  routerFile: string;
  shardedParty: string;
  /** Root-relative path of the sharded party's file. */
  partyFile: string;
  /** The router's SHARD_COUNT, when it reads as a number. */
  shardCount?: number;
}

/** Reads back what `init` set up: the router party and the party it shards, whose file must exist. */
export async function findRouter(loaded: LoadedConfig, read: ReadFile): Promise<RouterSetup> {
  const setup = await findRouterIfAny(loaded, read);
  if (setup) return setup;
  throw new PartyShardError(`No party-shard router in ${loaded.file}: run \`npx party-shard init\` first.`, {
    location: { file: loaded.file },
  });
}

/** Like `findRouter`, but undefined when `init` has not run; a broken setup still throws. */
export async function findRouterIfAny(loaded: LoadedConfig, read: ReadFile): Promise<RouterSetup | undefined> {
  for (const [routerParty, file] of Object.entries(loaded.config.parties)) {
    const routerFile = configFilePath(file);
    // Only a file inside the project can be the router; any other entry is some other party.
    if (!insideRoot(routerFile)) continue;
    const text = await read(routerFile).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "EISDIR") return null;
      throw error;
    });
    if (text === null || !isGeneratedRouter(text)) continue;
    const shardedParty = /const SHARDED_PARTY = "([^"]+)"/.exec(text)?.[1];
    if (!shardedParty) continue;
    const known = shardedParty === "main" || Object.hasOwn(loaded.config.parties, shardedParty);
    if (!known) {
      throw new PartyShardError(`The router ${routerFile} shards "${shardedParty}", which is not a party in ${loaded.file}.`, {
        location: { file: routerFile },
        hint: "Run `npx party-shard init --force` to regenerate the router.",
      });
    }
    const { file: configured } = await readPartyFile(loaded, shardedParty, read);
    // init may have pointed the router at main's source, when main is a build output.
    const partyFile = (await importedParty(routerFile, text, configured, read)) ?? configured;
    return { routerParty, routerFile, shardedParty, partyFile, shardCount: routerShardCount(text) };
  }
  return undefined;
}

/**
 * The file the router imports the party from (`import Sharded from "../src/server"`), when it
 * exists and is not the configured one; the configured file wins whenever the import can mean it.
 */
async function importedParty(routerFile: string, text: string, configured: string, read: ReadFile): Promise<string | undefined> {
  const specifier = /^import Sharded from "(\.{1,2}\/[^"]+)";$/m.exec(text)?.[1];
  if (!specifier) return undefined;
  const base = path.posix.join(path.posix.dirname(routerFile), specifier);
  const stem = base.replace(/\.[cm]?js$/, "");
  const candidates = [base, ...[".ts", ".tsx", ".mts", ".js", ".mjs", ".jsx"].map((ext) => stem + ext)];
  if (candidates.includes(configured)) return undefined;
  for (const candidate of candidates) {
    if (!insideRoot(candidate)) continue;
    const found = await read(candidate).catch(() => null);
    if (found !== null) return candidate;
  }
  return undefined;
}

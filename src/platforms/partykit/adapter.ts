import path from "node:path";
import { loadConfig, type LoadedConfig } from "../../core/config/load-config.js";
import { defaultRouterName, routerShardCount } from "../../core/partykit/render-router.js";
import type { Disk, ReadFile } from "../../core/read-file.js";
import { projectReader } from "../../infra/project-reader.js";
import { namesFile, type InitIo, type InitRequest, type PlatformAdapter, type PlatformProject } from "../adapter.js";
import { partyKitVerifyTarget } from "./verify-target.js";

// The planners load ts-morph: each is imported when its command runs, so verify does not pay for them.

/** PartyKit: a partykit.json (or package.json "partykit" key); a router party beside the sharded one. */
export const partykit: PlatformAdapter = {
  platform: "partykit",
  load: async (cwd, config, disk) => partyKitProject(await loadConfig(disk, cwd, config), disk),
};

function partyKitProject(loaded: LoadedConfig, disk: Disk): PlatformProject {
  const reader = projectReader(loaded, disk);
  const { read } = reader;
  return {
    platform: "partykit",
    devServer: "partykit dev",
    chooseParty: (request, io) => chooseParty(loaded, read, request, io),
    shardCount: (request) => currentShardCount(loaded, read, request.party === undefined || namesFile(request.party) ? "main" : request.party, request.name),
    planInit: async (request) => (await import("../../core/partykit/plan-init.js")).planInit(loaded, request, reader),
    planMigrate: async (options) => (await import("../../core/partykit/plan-migrate.js")).planMigrate(loaded, reader, options),
    planCheck: async (options) => (await import("../../core/partykit/plan-check.js")).planCheck(loaded, reader, options),
    verifyTarget: (router) => partyKitVerifyTarget(loaded, read, router),
  };
}

/**
 * Says which party init shards, before any question: the one --party names (or main), or,
 * when it is about to ask which, the parties to choose from. Without --party, planInit takes
 * main only if it is a source with WebSocket handlers.
 */
async function chooseParty(loaded: LoadedConfig, read: ReadFile, request: InitRequest, io: InitIo): Promise<string | undefined> {
  const asksParty = request.party === undefined && io.prompts.interactive && Object.keys(loaded.config.parties).length > 0;
  const app = `a PartyKit app (${loaded.file})`;
  if (asksParty) {
    const parties = Object.entries({ main: loaded.config.main, ...loaded.config.parties }).map(([name, file]) => `${name} (${path.posix.normalize(String(file).replaceAll("\\", "/"))})`);
    io.info(`Found ${app} with ${parties.length} parties: ${parties.join(", ")}.`);
    return io.prompts.select("Which party should be sharded?", ["main", ...Object.keys(loaded.config.parties)], "main");
  }
  // The same choice planInit makes, so a party init refuses is refused here, before anything is asked.
  const { chooseParty: choose } = await import("../../core/partykit/choose-party.js");
  const chosen = await choose(loaded, request.party, read);
  io.info(`Found party ${chosen.party} (${chosen.file}) in ${app}.`);
  return request.party;
}

/** The count of the router `init` would update, if there is one; planInit checks the rest. */
async function currentShardCount(loaded: LoadedConfig, read: ReadFile, party: string, name?: string): Promise<number | undefined> {
  const routerName = name ?? defaultRouterName(party);
  const entry = Object.hasOwn(loaded.config.parties, routerName) ? loaded.config.parties[routerName] : undefined;
  if (typeof entry !== "string") return undefined;
  const text = await read(path.posix.normalize(entry.replaceAll("\\", "/"))).catch(() => null);
  return text === null ? undefined : routerShardCount(text);
}

import type { LoadedWrangler } from "../../core/config/wrangler/loaded-wrangler.js";
import { loadWrangler } from "../../core/config/wrangler/load-wrangler.js";
import { ROUTER_BINDING } from "../../core/config/wrangler/names.js";
import type { Disk, ReadFile } from "../../core/read-file.js";
import { PartyShardError } from "../../errors.js";
import { projectReader } from "../../infra/project-reader.js";
import type { InitIo, InitRequest, PlatformAdapter, PlatformProject } from "../adapter.js";
import { partyServerVerifyTarget } from "./verify-target.js";

// The planners load ts-morph: each is imported when its command runs, so verify does not pay for them.

/** PartyServer: a Worker's wrangler config binding classes that extend partyserver's Server; the router is a binding of its own. */
export const partyserver: PlatformAdapter = {
  platform: "partyserver",
  load: async (cwd, config, disk) => partyServerProject(await loadWrangler(disk, cwd, config), disk),
};

function partyServerProject(loaded: LoadedWrangler, disk: Disk): PlatformProject {
  const reader = projectReader(loaded, disk);
  const { read } = reader;
  const initPlanner = () => import("../../core/partyserver/plan-init-partyserver.js");
  return {
    platform: "partyserver",
    devServer: "wrangler dev",
    chooseParty: (request, io) => chooseClass(loaded, read, request, io),
    shardCount: async (request) => (await initPlanner()).currentShardCount(loaded, request.party, read),
    planInit: async (request) => (await initPlanner()).planInitPartyServer(loaded, { party: request.party, shards: request.shards, shardTarget: request.shardTarget, force: request.force, vendor: request.vendor }, reader),
    planMigrate: async (options) => (await import("../../core/partyserver/plan-migrate-partyserver.js")).planMigratePartyServer(loaded, reader, options),
    planCheck: async (options) => (await import("../../core/partyserver/plan-check-partyserver.js")).planCheckPartyServer(loaded, reader, options),
    verifyTarget: (router) => partyServerVerifyTarget(loaded, read, router),
  };
}

/**
 * Says which class init shards: the one --party names (or the one class with socket handlers),
 * or, asked only when there is a choice, the classes to choose from. Without a terminal,
 * several candidates stop init (exit 2) listing them.
 */
async function chooseClass(loaded: LoadedWrangler, read: ReadFile, request: InitRequest, io: InitIo): Promise<string | undefined> {
  for (const flag of ["name", "out"] as const) {
    if (request[flag] !== undefined) throw new PartyShardError(`--${flag} is for PartyKit projects; on PartyServer the router is the ${ROUTER_BINDING} binding, and its runtime goes beside the sharded class.`, { hint: `Drop --${flag}.` });
  }
  const { shardableBindings, classToShard } = await import("../../core/partyserver/plan-init-partyserver.js");
  const candidates = request.party === undefined && io.prompts.interactive ? await shardableBindings(loaded, read) : [];
  if (candidates.length > 1) {
    io.info(`Found a PartyServer app (${loaded.file}) with ${candidates.length} classes to shard: ${candidates.join(", ")}.`);
    return io.prompts.select("Which class should be sharded?", candidates, candidates[0]!);
  }
  const found = await classToShard(loaded, request.party, read);
  io.info(`Found the ${found.className} class (binding ${found.binding}, ${found.file}) in a PartyServer app (${loaded.file}).`);
  return request.party;
}

import path from "node:path";
import { PartyShardError } from "../errors.js";
import type { Platform, Project } from "../core/project.js";
import type { DevServer } from "../infra/dev-process.js";

/** What verify runs and where its probe connects, for one project. */
export interface VerifyTarget {
  platform: Platform;
  root: string;
  /** The dev server's name in messages: `partykit dev` or `wrangler dev`. */
  devServer: string;
  /** The router's URL name: clients connect to `/parties/<router>/<room>`, its load view is a GET there. */
  router: string;
  /**
   * The party the router shards: its name as init and migrate report it (`main`, `Chat`), its
   * file, and its URL name (`main`, `chat`), where the unsharded run connects. Undefined when
   * `--router` names a router init did not generate.
   */
  party?: { name: string; file: string; url: string };
  shards?: number;
  /** Every party's URL name, which a setup request may address. */
  parties: string[];
  start(options: { signal: AbortSignal; persist: string }): Promise<DevServer>;
}

/**
 * The server and router of a project that `init` set up; `router` overrides the one init
 * generated. A dev server too old for verify's flags is refused here, before anything starts.
 */
export async function verifyTarget(project: Project, router: string | undefined): Promise<VerifyTarget> {
  const { refuseOldDevServer } = await import("../infra/dev-version.js");
  const { projectReader } = await import("../infra/project-reader.js");
  if (project.platform === "partykit") {
    const loaded = project.config;
    const { findRouter, findRouterIfAny } = await import("../core/migrate/find-router.js");
    const { startPartykitDev } = await import("../infra/partykit-dev.js");
    const read = projectReader(loaded);
    // The party init wrapped is "the room"; a router named by hand may shard nothing init knows.
    const setup = router === undefined ? await findRouter(loaded, read) : await findRouterIfAny(loaded, read).catch(() => undefined);
    refuseOldDevServer("partykit", loaded.root, loaded.root);
    return {
      platform: "partykit",
      root: loaded.root,
      devServer: "partykit dev",
      router: router ?? setup!.routerParty,
      ...(setup ? { party: { name: setup.shardedParty, file: setup.partyFile, url: setup.shardedParty }, shards: setup.shardCount } : {}),
      parties: ["main", ...Object.keys(loaded.config.parties)],
      start: (options) => startPartykitDev({ cwd: loaded.root, ...options }),
    };
  }
  const loaded = project.config;
  const { ROUTER_BINDING, kebab } = await import("../core/partyserver/names.js");
  const { startWranglerDev } = await import("../infra/wrangler-dev.js");
  // On PartyServer the router is a class init binds: its party is the binding's URL name.
  if (router === undefined && !loaded.bindings.some((binding) => binding.name === ROUTER_BINDING)) {
    throw new PartyShardError(`No party-shard router in ${loaded.file}: no Durable Object binding "${ROUTER_BINDING}". Run \`npx party-shard init\` first.`, {
      location: { file: loaded.file },
    });
  }
  const { loadWorkerSources } = await import("../core/partyserver/worker-sources.js");
  const { findSetupIfAny } = await import("../core/partyserver/find-setup.js");
  const read = projectReader(loaded);
  const setup = await findSetupIfAny(loaded, await loadWorkerSources(loaded, read), read).catch(() => undefined);
  refuseOldDevServer("wrangler", loaded.root, loaded.root);
  return {
    platform: "partyserver",
    root: loaded.root,
    devServer: "wrangler dev",
    router: router ?? kebab(ROUTER_BINDING),
    ...(setup ? { party: { name: setup.chosen.binding.name, file: setup.chosen.file, url: kebab(setup.chosen.binding.name) }, shards: setup.shardCount } : {}),
    parties: loaded.bindings.filter((binding) => !binding.scriptName).map((binding) => kebab(binding.name)),
    // --config always: a config wrangler would not find by itself (named by party-shard's --config) is still the one run.
    start: (options) => startWranglerDev({ cwd: loaded.root, config: path.join(loaded.root, loaded.file), ...options }),
  };
}

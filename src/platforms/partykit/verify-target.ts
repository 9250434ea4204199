import type { LoadedConfig } from "../../core/config/load-config.js";
import type { ReadFile } from "../../core/read-file.js";
import type { VerifyTarget } from "../adapter.js";

/** The partykit dev server and router of a project that `init` set up; `router` overrides the one init generated. */
export async function partyKitVerifyTarget(loaded: LoadedConfig, read: ReadFile, router: string | undefined): Promise<VerifyTarget> {
  const { refuseOldDevServer } = await import("../../infra/dev-version.js");
  const { findRouter, findRouterIfAny } = await import("../../core/partykit/find-router.js");
  const { startPartykitDev } = await import("../../infra/partykit-dev.js");
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

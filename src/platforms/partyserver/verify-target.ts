import path from "node:path";
import type { LoadedWrangler } from "../../core/config/wrangler/loaded-wrangler.js";
import type { ReadFile } from "../../core/read-file.js";
import { PartyShardError } from "../../errors.js";
import type { VerifyTarget } from "../adapter.js";

/** The wrangler dev server and router of a project that `init` set up; `router` overrides the one init bound. */
export async function partyServerVerifyTarget(loaded: LoadedWrangler, read: ReadFile, router: string | undefined): Promise<VerifyTarget> {
  const { refuseOldDevServer } = await import("../../infra/dev-version.js");
  const { ROUTER_BINDING, kebab } = await import("../../core/config/wrangler/names.js");
  const { startWranglerDev } = await import("../../infra/wrangler-dev.js");
  // On PartyServer the router is a class init binds: its party is the binding's URL name.
  if (router === undefined && !loaded.bindings.some((binding) => binding.name === ROUTER_BINDING)) {
    throw new PartyShardError(`No party-shard router in ${loaded.file}: no Durable Object binding "${ROUTER_BINDING}". Run \`npx party-shard init\` first.`, {
      location: { file: loaded.file },
    });
  }
  const { loadWorkerSources } = await import("../../core/partyserver/worker-sources.js");
  const { findSetupIfAny } = await import("../../core/partyserver/find-setup.js");
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

import path from "node:path";
import { PartyShardError } from "../errors.js";
import type { Project } from "../core/project.js";
import type { DevServer } from "../infra/dev-process.js";

/** What verify runs and where its probe connects, for one project. */
export interface VerifyTarget {
  root: string;
  /** The dev server's name in messages: `partykit dev` or `wrangler dev`. */
  devServer: string;
  /** The router's URL name: clients connect to `/parties/<router>/<room>`, its load view is a GET there. */
  router: string;
  start(options: { signal: AbortSignal; persist: string }): Promise<DevServer>;
}

/** The server and router of a project that `init` set up; `router` overrides the one init generated. */
export async function verifyTarget(project: Project, router: string | undefined): Promise<VerifyTarget> {
  if (project.platform === "partykit") {
    const loaded = project.config;
    const { findRouter } = await import("../core/migrate/find-router.js");
    const { projectReader } = await import("../infra/project-reader.js");
    const { startPartykitDev } = await import("../infra/partykit-dev.js");
    return {
      root: loaded.root,
      devServer: "partykit dev",
      router: router ?? (await findRouter(loaded, projectReader(loaded))).routerParty,
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
  return {
    root: loaded.root,
    devServer: "wrangler dev",
    router: router ?? kebab(ROUTER_BINDING),
    // --config always: a config wrangler would not find by itself (named by party-shard's --config) is still the one run.
    start: (options) => startWranglerDev({ cwd: loaded.root, config: path.join(loaded.root, loaded.file), ...options }),
  };
}

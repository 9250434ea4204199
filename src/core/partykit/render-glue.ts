import type { PackageFiles } from "../package-info.js";
import { renderTemplate } from "../render-template.js";
import { runtimeSpecifier, type RuntimeMode } from "../runtime-files.js";

export const GLUE_FILE_NAME = "party-shard-server.ts";

/** The server glue module migrate writes next to the router. */
export function renderGlue(options: { shardedParty: string; routerParty: string; mode: RuntimeMode }, own: PackageFiles): string {
  return renderTemplate(own, "server-glue.ts", {
    runtimeImport: runtimeSpecifier("partykit", options.mode),
    shardedParty: options.shardedParty,
    routerParty: options.routerParty,
    shardedPartyLiteral: JSON.stringify(options.shardedParty),
    routerPartyLiteral: JSON.stringify(options.routerParty),
  });
}

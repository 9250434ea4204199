import { renderTemplate } from "../../render-template.js";

export const GLUE_FILE_NAME = "party-shard-server.ts";

/** The server glue module migrate writes next to the router. */
export function renderGlue(options: { shardedParty: string; routerParty: string }): string {
  return renderTemplate("server-glue.ts", {
    shardedParty: options.shardedParty,
    routerParty: options.routerParty,
    shardedPartyLiteral: JSON.stringify(options.shardedParty),
    routerPartyLiteral: JSON.stringify(options.routerParty),
  });
}

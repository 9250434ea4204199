import { renderTemplate } from "../render-template.js";

export interface RouterOptions {
  shardedParty: string;
  routerParty: string;
  shardCount: number;
}

/** The router file `init` writes, for the given options. */
export function renderRouter(options: RouterOptions): string {
  return renderTemplate("router.ts", {
    shardedParty: options.shardedParty,
    shardedPartyLiteral: JSON.stringify(options.shardedParty),
    routerParty: options.routerParty,
    routerPartyLiteral: JSON.stringify(options.routerParty),
    shardCount: options.shardCount,
  });
}

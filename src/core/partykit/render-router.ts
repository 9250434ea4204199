import { isGeneratedFile } from "../generated-file.js";
import type { PackageFiles } from "../package-info.js";
import { renderTemplate } from "../render-template.js";
import { DEFAULT_SHARD_TARGET } from "../shard-count.js";

/** The router party init names for `party` without --name: `router`, or `<party>-router` for a party other than main. */
export const defaultRouterName = (party: string) => (party === "main" ? "router" : `${party}-router`);

export interface RouterOptions {
  shardedParty: string;
  routerParty: string;
  shardCount: number;
  /** Clients a shard takes before the next opens; DEFAULT_SHARD_TARGET by default. */
  shardTarget?: number;
  /** How the router file imports the sharded party's module, and the runtime module. */
  partyImport: string;
  glueImport: string;
}

/** The router file `init` writes, for the given options. */
export function renderRouter(options: RouterOptions, own: PackageFiles): string {
  return renderTemplate(own, "router.ts", {
    shardedParty: options.shardedParty,
    shardedPartyLiteral: JSON.stringify(options.shardedParty),
    routerParty: options.routerParty,
    shardCount: options.shardCount,
    shardTarget: options.shardTarget ?? DEFAULT_SHARD_TARGET,
    partyImport: options.partyImport,
    glueImport: options.glueImport,
  });
}

export const isGeneratedRouter = (text: string) => isGeneratedFile(text) && /^(?:export )?const SHARDED_PARTY = /m.test(text);

/** The shard target an existing router was generated with; undefined before routers had one. */
export function routerShardTarget(text: string): number | undefined {
  const match = /^const SHARD_TARGET = (\d+);$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** The shard count an existing router was generated with, so a re-run keeps it. */
export function routerShardCount(text: string): number | undefined {
  const match = /^const SHARD_COUNT = (\d+);$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

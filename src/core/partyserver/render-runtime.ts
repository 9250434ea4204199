import type { PackageFiles } from "../package-info.js";
import { renderTemplate } from "../render-template.js";
import { DEFAULT_SHARD_TARGET } from "../shard-count.js";
import { runtimeSpecifier, type RuntimeMode } from "../runtime-files.js";
import { kebab } from "../config/wrangler/names.js";

/** Same file name as on PartyKit: one runtime module per project, beside the sharded class. */
export const RUNTIME_FILE_NAME = "party-shard-server.ts";

export interface PartyServerRuntimeOptions {
  /** The sharded class's binding (`Chat`); its clients use `/parties/<kebab>/`. */
  shardedBinding: string;
  shardCount: number;
  /** Clients a shard takes before the next opens; DEFAULT_SHARD_TARGET by default. */
  shardTarget?: number;
  mode: RuntimeMode;
}

/**
 * The module `init` writes beside a PartyServer project's sharded class: `Sharded`, and
 * `PartyShardRouter` and `routePartyShard` configured for this class, from the runtime.
 */
export function renderPartyServerRuntime(options: PartyServerRuntimeOptions, own: PackageFiles): string {
  return renderTemplate(own, "runtime-partyserver.ts", {
    runtimeImport: runtimeSpecifier("partyserver", options.mode),
    shardedBinding: options.shardedBinding,
    shardedBindingLiteral: JSON.stringify(options.shardedBinding),
    shardedPartyLiteral: JSON.stringify(kebab(options.shardedBinding)),
    shardCount: options.shardCount,
    shardTarget: options.shardTarget ?? DEFAULT_SHARD_TARGET,
  });
}

/** The binding, shard count and target (none before runtimes had one) an existing runtime was generated with; undefined for any other file. */
export function readPartyServerRuntime(text: string): { shardedBinding: string; shardCount: number; shardTarget?: number } | undefined {
  const binding = /^const SHARDED_BINDING = "([^"]+)";$/m.exec(text)?.[1];
  const count = /^const SHARD_COUNT = (\d+);$/m.exec(text)?.[1];
  const target = /^const SHARD_TARGET = (\d+);$/m.exec(text)?.[1];
  return binding && count ? { shardedBinding: binding, shardCount: Number(count), ...(target ? { shardTarget: Number(target) } : {}) } : undefined;
}

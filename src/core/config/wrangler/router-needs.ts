import { ROUTER_BINDING } from "./names.js";
import type { DurableBinding, LoadedWrangler } from "./loaded-wrangler.js";

/** A part of the config that holds its own durable_objects or migrations: the top level, or `env.<name>`. */
export type Scope = [] | ["env", string];

/** What the router still lacks in a wrangler config, by scope. */
export interface RouterNeeds {
  /** Scopes whose `durable_objects.bindings` needs the router's binding. */
  bindings: { scope: Scope; line?: number }[];
  /** Scopes whose `migrations` needs a step that creates the router's class. */
  migrations: { scope: Scope; line?: number }[];
  /** The tag for that step: `party-shard-v1`, or the first `-v<n>` no migrations list uses. */
  tag: string;
}

/** The router's binding; its class has the same name. */
export const ROUTER_BINDING_ENTRY = { name: ROUTER_BINDING, class_name: ROUTER_BINDING };

/**
 * Reads what is missing. The top level always needs the binding (the Worker's own
 * durable_objects); an env needs it only when it declares durable_objects of its own, since
 * wrangler does not inherit them. An env's migrations replace the top level's when it has some.
 */
export function routerNeeds(loaded: LoadedWrangler): RouterNeeds {
  const bindings: RouterNeeds["bindings"] = [];
  const migrations: RouterNeeds["migrations"] = [];
  if (!hasRouter(loaded.bindings)) bindings.push({ scope: [], line: loaded.durableObjectsLine });
  if (!loaded.migratedClasses.includes(ROUTER_BINDING)) migrations.push({ scope: [], line: loaded.migrationsLine });
  const tags = new Set(loaded.migrationTags);
  for (const [name, env] of Object.entries(loaded.envs)) {
    if (env.bindings && !hasRouter(env.bindings)) bindings.push({ scope: ["env", name], line: env.line });
    for (const tag of env.migrations?.tags ?? []) tags.add(tag);
    if (env.migrations && !env.migrations.classes.includes(ROUTER_BINDING)) migrations.push({ scope: ["env", name], line: env.migrations.line });
  }
  let version = 1;
  while (tags.has(`party-shard-v${version}`)) version++;
  return { bindings, migrations, tag: `party-shard-v${version}` };
}

/** Whether `bindings` has the router's name (what it binds is checked by `routerBindingConflicts`). */
function hasRouter(bindings: DurableBinding[]): boolean {
  return bindings.some((binding) => binding.name === ROUTER_BINDING);
}

/** Bindings named like the router that bind something else: clients would reach that class as the router. */
export function routerBindingConflicts(loaded: LoadedWrangler): { where: string; binding: DurableBinding }[] {
  const scopes: [string, DurableBinding[] | undefined][] = [["", loaded.bindings], ...Object.entries(loaded.envs).map(([name, env]): [string, DurableBinding[] | undefined] => [`env.${name}.`, env.bindings])];
  return scopes.flatMap(([where, bindings]) =>
    (bindings ?? [])
      .filter((binding) => binding.name === ROUTER_BINDING && (binding.className !== ROUTER_BINDING || binding.scriptName !== undefined))
      .map((binding) => ({ where: `${where}durable_objects`, binding })),
  );
}

/** `env.production.` for an env scope, "" for the top level: how messages name a scope's keys. */
export function scopePrefix(scope: Scope): string {
  return scope.length === 0 ? "" : `env.${scope[1]}.`;
}

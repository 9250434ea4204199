import { PartyShardError } from "../../../errors.js";
import { ROUTER_BINDING } from "./names.js";
import { editJsonConfig } from "./edit-json.js";
import { editTomlConfig } from "./edit-toml.js";
import type { LoadedWrangler } from "./loaded-wrangler.js";
import { parseWrangler } from "./load-wrangler.js";
import { routerBindingConflicts, routerNeeds, scopePrefix } from "./router-needs.js";
import { verifyRouterEdit } from "./verify-edit.js";

/**
 * The config text with the router's binding added where it is missing (the top level, and every
 * env that declares durable_objects) and a migration creating its class appended last; the text
 * unchanged when all of it is there. Comments, layout and key order are kept.
 *
 * @example addRouterToWrangler(await loadWrangler(cwd)) // the new wrangler.jsonc text
 */
export function addRouterToWrangler(loaded: LoadedWrangler): string {
  const conflict = routerBindingConflicts(loaded)[0];
  if (conflict) {
    throw new PartyShardError(`${conflict.where} binds "${ROUTER_BINDING}" to ${describeTarget(conflict.binding)}, but that name is the party-shard router's.`, {
      location: { file: loaded.file, ...(conflict.binding.line ? { line: conflict.binding.line } : {}) },
      hint: `Rename that binding: party-shard binds "${ROUTER_BINDING}" to its own router class.`,
    });
  }
  const needs = routerNeeds(loaded);
  if (needs.bindings.length === 0 && needs.migrations.length === 0) return loaded.text;
  const text = loaded.format === "toml" ? editTomlConfig(loaded, needs) : editJsonConfig(loaded, needs);
  // The edit is checked by reading it back: a config that does not parse, or that still lacks
  // something, must never be written.
  const left = routerConfigProblems(parseWrangler(loaded.root, loaded.file, text));
  if (left.length > 0) throw new Error(`Adding the router to ${loaded.file} left: ${left.map((problem) => problem.message).join("; ")}`);
  verifyRouterEdit(loaded, needs, text);
  return text;
}

/** What the router lacks in the config, one problem per scope and part, for `check`. */
export function routerConfigProblems(loaded: LoadedWrangler): { message: string; line?: number }[] {
  const conflicts = routerBindingConflicts(loaded).map(({ where, binding }) => ({
    message: `${where} binds "${ROUTER_BINDING}" to ${describeTarget(binding)}, not to the router class`,
    line: binding.line,
  }));
  const needs = routerNeeds(loaded);
  const bindings = needs.bindings.map(({ scope, line }) => ({
    message:
      scope.length === 0
        ? `no "${ROUTER_BINDING}" binding in durable_objects.bindings: clients cannot reach the router`
        : `${scopePrefix(scope)}durable_objects has no "${ROUTER_BINDING}" binding (an env does not inherit the top level's)`,
    line,
  }));
  const migrations = needs.migrations.map(({ scope, line }) => ({
    message: `no ${scopePrefix(scope)}migrations step creates the ${ROUTER_BINDING} class (wrangler dev runs without one, a deploy needs it)`,
    line,
  }));
  return [...conflicts, ...bindings, ...migrations].map((problem) => (problem.line ? problem : { message: problem.message }));
}

function describeTarget(binding: { className: string; scriptName?: string }): string {
  return binding.scriptName ? `class ${binding.className} of the Worker ${binding.scriptName}` : `class ${binding.className}`;
}

import { isDeepStrictEqual } from "node:util";
import { ROUTER_BINDING } from "./names.js";
import type { LoadedWrangler } from "./loaded-wrangler.js";
import { readJsonConfig } from "./read-json.js";
import { readTomlConfig } from "./read-toml.js";
import { ROUTER_BINDING_ENTRY, type RouterNeeds } from "./router-needs.js";

/**
 * Throws unless `edited`, parsed again, holds exactly the config as it was plus what `needs`
 * adds: the router's binding last in each scope's bindings and its migration step last in each
 * scope's migrations. An edit made in place (inside an inline array or table) must not lose,
 * move or change anything that was there.
 */
export function verifyRouterEdit(loaded: LoadedWrangler, needs: RouterNeeds, edited: string): void {
  // As plain JSON data: smol-toml's tables have no prototype, and its dates are objects of its own.
  const read = (text: string) => JSON.parse(JSON.stringify((loaded.format === "toml" ? readTomlConfig(loaded.file, text) : readJsonConfig(loaded.file, text)).data)) as Record<string, unknown>;
  const expected = read(loaded.text);
  for (const { scope } of needs.bindings) append(expected, [...scope, "durable_objects", "bindings"], { ...ROUTER_BINDING_ENTRY });
  for (const { scope } of needs.migrations) append(expected, [...scope, "migrations"], { tag: needs.tag, new_sqlite_classes: [ROUTER_BINDING] });
  if (!isDeepStrictEqual(read(edited), expected)) {
    throw new Error(`Adding the router to ${loaded.file} changed what was there, or added something else: the edit was not written.`);
  }
}

/** Pushes `entry` onto the list at `path`, making the tables and list on the way that are missing. */
function append(data: Record<string, unknown>, path: string[], entry: unknown): void {
  let table = data;
  for (const key of path.slice(0, -1)) table = (table[key] ??= {}) as Record<string, unknown>;
  const list = path.at(-1)!;
  table[list] = [...((table[list] as unknown[] | undefined) ?? []), entry];
}

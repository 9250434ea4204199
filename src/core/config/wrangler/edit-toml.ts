import { PartyShardError } from "../../../errors.js";
import { ROUTER_BINDING } from "./names.js";
import type { LoadedWrangler } from "./loaded-wrangler.js";
import { ROUTER_BINDING_ENTRY, scopePrefix, type RouterNeeds, type Scope } from "./router-needs.js";
import { scanTomlLines, tomlKey } from "./toml-lines.js";

/**
 * Adds what `needs` lists to a wrangler.toml as text: `[[…]]` headers name their array from
 * the top, so blocks appended at the end of the file extend the right array wherever its other
 * elements are, and nothing already written moves. An array written inline (`x = [ … ]`, or
 * inside an inline table) cannot be extended that way: that is refused with its line.
 */
export function editTomlConfig(loaded: LoadedWrangler, needs: RouterNeeds): string {
  const lines = scanTomlLines(loaded.text);
  const newline = loaded.text.includes("\r\n") ? "\r\n" : "\n";
  const blocks: string[][] = [];
  const refuseInline = (array: string[]) => {
    const inline = lines.find((line) => line.kind === "key" && line.path.length <= array.length && line.path.every((part, i) => part === array[i]));
    if (!inline) return;
    const written = inline.path.join(".");
    throw new PartyShardError(`${written} is written inline (\`${inline.path.at(-1)} = …\`), so party-shard cannot append a [[${array.join(".")}]] table to it.`, {
      location: { file: loaded.file, line: inline.line },
      hint: `Write it as [[${array.join(".")}]] tables (one per entry), or add ${describe(array)} yourself and run party-shard again.`,
    });
  };
  for (const { scope } of needs.bindings) {
    const array = [...scopePath(scope), "durable_objects", "bindings"];
    refuseInline(array);
    blocks.push([header(array), `name = ${JSON.stringify(ROUTER_BINDING_ENTRY.name)}`, `class_name = ${JSON.stringify(ROUTER_BINDING_ENTRY.class_name)}`]);
  }
  for (const { scope } of needs.migrations) {
    const array = [...scopePath(scope), "migrations"];
    refuseInline(array);
    blocks.push([header(array), `tag = ${JSON.stringify(needs.tag)}`, `new_sqlite_classes = [${JSON.stringify(ROUTER_BINDING)}]`]);
  }
  const text = loaded.text;
  const ending = text === "" || text.endsWith("\n") ? "" : newline;
  const gap = text.trim() === "" || /\n\s*\n$/.test(text) ? "" : newline;
  return `${text}${ending}${gap}${blocks.map((block) => block.join(newline)).join(newline + newline)}${newline}`;
}

function scopePath(scope: Scope): string[] {
  return scope.length === 0 ? [] : ["env", scope[1]];
}

function header(array: string[]): string {
  return `[[${array.map(tomlKey).join(".")}]]`;
}

function describe(array: string[]): string {
  const scope = array[0] === "env" ? scopePrefix(["env", array[1]!]) : "";
  return array.at(-1) === "migrations"
    ? `a ${scope}migrations step creating ${ROUTER_BINDING}`
    : `the binding { name = "${ROUTER_BINDING}", class_name = "${ROUTER_BINDING}" } to ${scope}durable_objects`;
}

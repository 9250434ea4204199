import { detectCodeStyle } from "../../code-style.js";
import { applyEdits, type Edit } from "../../text-edits.js";
import { ROUTER_BINDING } from "./names.js";
import type { LoadedWrangler } from "./loaded-wrangler.js";
import { inlineArrayEdits } from "./edit-toml-inline.js";
import { ROUTER_BINDING_ENTRY, type RouterNeeds, type Scope } from "./router-needs.js";
import { scanTomlLines, tomlKey } from "./toml-lines.js";

/**
 * Adds what `needs` lists to a wrangler.toml as text. An array written inline (`bindings = [ … ]`,
 * `migrations = [ … ]`, or inside an inline table) gets the entry inside, in its own layout.
 * Otherwise `[[…]]` blocks are appended at the end of the file: their headers name their array
 * from the top, so they extend the right array wherever its other elements are, and nothing
 * already written moves.
 */
export function editTomlConfig(loaded: LoadedWrangler, needs: RouterNeeds): string {
  const lines = scanTomlLines(loaded.text);
  const { newline, indent } = detectCodeStyle(loaded.text);
  const layout = { newline, unit: indent, trailingCommas: false };
  const edits: Edit[] = [];
  const blocks: string[][] = [];
  // An entry goes into the array where it is written inline (an inline table `{ … }` there), else as a `[[…]]` block.
  const add = (array: string[], fields: [string, string][]) => {
    const pairs = fields.map(([key, value]) => `${key} = ${value}`);
    const inline = inlineArrayEdits(loaded.file, loaded.text, lines, array, `{ ${pairs.join(", ")} }`, layout);
    if (inline) edits.push(...inline);
    else blocks.push([header(array), ...pairs]);
  };
  const binding: [string, string][] = [
    ["name", JSON.stringify(ROUTER_BINDING_ENTRY.name)],
    ["class_name", JSON.stringify(ROUTER_BINDING_ENTRY.class_name)],
  ];
  const migration: [string, string][] = [
    ["tag", JSON.stringify(needs.tag)],
    ["new_sqlite_classes", `[${JSON.stringify(ROUTER_BINDING)}]`],
  ];
  for (const { scope } of needs.bindings) add([...scopePath(scope), "durable_objects", "bindings"], binding);
  for (const { scope } of needs.migrations) add([...scopePath(scope), "migrations"], migration);
  const text = applyEdits(loaded.text, edits);
  if (blocks.length === 0) return text;
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

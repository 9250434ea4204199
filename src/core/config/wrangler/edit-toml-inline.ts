import { PartyShardError } from "../../../errors.js";
import { appendItemEdits, type Edit, type ListSpan, type ObjectLayout } from "../../text-edits.js";
import { tomlKey, type TomlLine } from "./toml-lines.js";
import { readTomlValue, type TomlValue } from "./toml-values.js";

/**
 * Edits that add `element` to the array at `array` when a key line writes that array inline, or
 * an inline table around it (`bindings = [ … ]`, `durable_objects.bindings = [ … ]`,
 * `durable_objects = { bindings = [ … ] }`): the element goes inside, after the last one, in the
 * array's own layout; a table without the array gets it as its last entry. Undefined when no key
 * line writes the array or a table around it inline: `[[…]]` blocks extend it then.
 */
export function inlineArrayEdits(file: string, text: string, lines: TomlLine[], array: string[], element: string, layout: ObjectLayout): Edit[] | undefined {
  const holder = lines.find((line) => line.kind === "key" && line.path.length <= array.length && line.path.every((part, i) => part === array[i]));
  if (!holder) return undefined;
  const refuse = (why: string): never => {
    throw new PartyShardError(`${array.join(".")} is written inline at ${holder.path.join(".")}, and ${why}, so party-shard cannot add to it safely.`, {
      location: { file, line: holder.line },
      hint: `Write it as [[${array.join(".")}]] tables (one per entry), or add ${element} to it yourself and run party-shard again.`,
    });
  };
  let value = holder.value === undefined ? undefined : readTomlValue(text, holder.value);
  if (!value) return refuse("its value could not be read to its end");
  let rest = array.slice(holder.path.length);
  while (rest.length > 0) {
    if (value.kind !== "table") return refuse(`${holder.path.join(".")} is not an inline table`);
    const entry: { key: string[]; value: TomlValue } | undefined = value.entries.find(({ key }) => key.length <= rest.length && key.every((part, i) => part === rest[i]));
    // The table lacks the array: it becomes the table's last entry, as a dotted key if it is deeper.
    if (!entry) return appendItemEdits(text, listSpan(value), `${rest.map(tomlKey).join(".")} = [${element}]`, layout, true);
    value = entry.value;
    rest = rest.slice(entry.key.length);
  }
  if (value.kind !== "array") return refuse(`its value is not an array`);
  return appendItemEdits(text, listSpan(value), element, layout);
}

/** The list's brackets, last item and trailing comma; an entry's indentation is its value's line's. */
function listSpan(value: Extract<TomlValue, { kind: "array" | "table" }>): ListSpan {
  const last = value.kind === "array" ? value.items.at(-1) : value.entries.at(-1)?.value;
  return {
    open: value.start,
    close: value.end - 1,
    ...(last ? { last: { start: last.start, end: last.end } } : {}),
    ...(value.trailingComma === undefined ? {} : { trailingComma: value.trailingComma }),
  };
}

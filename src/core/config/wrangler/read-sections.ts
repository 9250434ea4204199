import { PartyShardError } from "../../../errors.js";
import type { DurableBinding, WranglerMigrations } from "./loaded-wrangler.js";
import type { ConfigPath } from "./read-config.js";

/** The config being read: its name and where its parts are, for errors that point there. */
export interface Reader {
  file: string;
  lineOf(path: ConfigPath): number | undefined;
}

export function fail(reader: Reader, at: ConfigPath, message: string, hint?: string): never {
  const line = lineNear(reader, at);
  throw new PartyShardError(message, { location: { file: reader.file, ...(line ? { line } : {}) }, hint });
}

/** `at`'s line, else its nearest enclosing part's that has one. */
function lineNear(reader: Reader, at: ConfigPath): number | undefined {
  for (let length = at.length; length > 0; length--) {
    const line = reader.lineOf(at.slice(0, length));
    if (line) return line;
  }
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `durable_objects` at `scope` (`[]` or `["env", name]`), or undefined when it is not there. */
export function readBindings(reader: Reader, value: unknown, scope: ConfigPath): { bindings: DurableBinding[]; line?: number } | undefined {
  if (value === undefined) return undefined;
  const at = [...scope, "durable_objects"];
  const where = `"${at.join(".")}" in ${reader.file}`;
  if (!isRecord(value)) fail(reader, at, `${where} must be an object with a "bindings" list.`);
  const list = value.bindings ?? [];
  if (!Array.isArray(list)) fail(reader, [...at, "bindings"], `"${[...at, "bindings"].join(".")}" in ${reader.file} must be a list of { name, class_name }.`);
  const bindings = list.map((entry, index) => readBinding(reader, entry, [...at, "bindings", index]));
  return { bindings, line: reader.lineOf(at) };
}

function readBinding(reader: Reader, entry: unknown, at: ConfigPath): DurableBinding {
  const where = `${at.slice(0, -1).join(".")}[${String(at.at(-1))}] in ${reader.file}`;
  if (!isRecord(entry)) fail(reader, at, `${where} must be an object { name, class_name }.`);
  for (const key of ["name", "class_name"]) {
    const field = entry[key];
    if (typeof field !== "string" || field.trim() === "") fail(reader, at, `${where} needs "${key}" as a non-empty string.`);
  }
  if (entry.script_name !== undefined && typeof entry.script_name !== "string") fail(reader, at, `${where}: "script_name" must be a string.`);
  const line = reader.lineOf(at);
  return {
    name: entry.name as string,
    className: entry.class_name as string,
    ...(typeof entry.script_name === "string" ? { scriptName: entry.script_name } : {}),
    ...(line ? { line } : {}),
  };
}

// The class lists a migration step may carry, and whether each adds classes or removes them.
const CLASS_LISTS = { new_classes: "add", new_sqlite_classes: "add", deleted_classes: "remove" } as const;

/** `migrations` at `scope`, replayed in order, or undefined when it is not there. */
export function readMigrations(reader: Reader, value: unknown, scope: ConfigPath): WranglerMigrations | undefined {
  if (value === undefined) return undefined;
  const at = [...scope, "migrations"];
  if (!Array.isArray(value)) fail(reader, at, `"${at.join(".")}" in ${reader.file} must be a list of migration steps.`);
  const tags: string[] = [];
  const classes = new Set<string>();
  value.forEach((step, index) => {
    const where = `${at.join(".")}[${index}] in ${reader.file}`;
    const stepAt = [...at, index];
    if (!isRecord(step)) fail(reader, stepAt, `${where} must be an object with a "tag".`);
    if (typeof step.tag !== "string") fail(reader, stepAt, `${where} needs "tag" as a string.`);
    tags.push(step.tag);
    for (const [key, effect] of Object.entries(CLASS_LISTS)) {
      const names = step[key] ?? [];
      if (!Array.isArray(names) || !names.every((name) => typeof name === "string")) fail(reader, stepAt, `${where}: "${key}" must be a list of class names.`);
      for (const name of names as string[]) {
        if (effect === "add") classes.add(name);
        else classes.delete(name);
      }
    }
    for (const key of ["renamed_classes", "transferred_classes"]) {
      const moves = step[key] ?? [];
      if (!Array.isArray(moves) || !moves.every((move) => isRecord(move) && typeof move.to === "string")) {
        fail(reader, stepAt, `${where}: "${key}" must be a list of { from, to }.`);
      }
      for (const move of moves as { from?: unknown; to: string }[]) {
        if (key === "renamed_classes" && typeof move.from === "string") classes.delete(move.from);
        classes.add(move.to);
      }
    }
  });
  const line = reader.lineOf(at);
  return { tags, classes: [...classes], ...(line ? { line } : {}) };
}

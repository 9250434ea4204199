import { parse, TomlError } from "smol-toml";
import { PartyShardError } from "../../../errors.js";
import type { ConfigPath, ReadConfig } from "./read-config.js";
import { scanTomlLines, type TomlLine } from "./toml-lines.js";

/** Reads a wrangler.toml: the data from smol-toml, lines from a scan of the text. */
export function readTomlConfig(file: string, text: string): ReadConfig & { lines: TomlLine[] } {
  let data: unknown;
  try {
    data = parse(text);
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const reason = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "").replace(/\.$/, "");
    throw new PartyShardError(`${file} does not parse: ${reason}.`, { location: { file, line: error.line, col: error.column } });
  }
  const lines = scanTomlLines(text);
  return { data, lines, lineOf: (path) => lineOf(lines, path) };
}

/**
 * The line that writes `path`: the n-th `[[…]]` header for element n of an array of tables,
 * else the first header or key at or under the path (an inline value's own line).
 */
function lineOf(lines: TomlLine[], path: ConfigPath): number | undefined {
  const index = path.findIndex((step) => typeof step === "number");
  if (index !== -1) {
    const arrayPath = path.slice(0, index) as string[];
    const headers = lines.filter((line) => line.kind === "array-table" && same(line.path, arrayPath));
    const header = headers[path[index] as number];
    if (header) return header.line;
    return lines.find((line) => startsWith(arrayPath, line.path) && line.kind === "key")?.line;
  }
  const names = path as string[];
  return lines.find((line) => startsWith(line.path, names) || (line.kind === "key" && startsWith(names, line.path)))?.line;
}

function same(a: string[], b: string[]): boolean {
  return a.length === b.length && startsWith(a, b);
}

/** `path` begins with `prefix`. */
function startsWith(path: string[], prefix: string[]): boolean {
  return prefix.length <= path.length && prefix.every((part, i) => path[i] === part);
}

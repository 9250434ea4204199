import type { LockQuery } from "./lock-query.js";

/**
 * The version pnpm-lock.yaml records for `name` in the importer's dependencies. Read line by
 * line, only the keys needed (`importers:` → the importer → `dependencies:` and its kin → the
 * package → `version:`), which every lockfile pnpm writes lays out the same way: two spaces an
 * indent, one key a line. Lockfile 5.x writes `name: 1.2.3` with the specifier apart; 6 and 9
 * write `name:` over `specifier:` and `version:`. A project without workspaces has the
 * dependency sections at the top (5.x, 6) instead of under `importers: .:`.
 */
export function pnpmLockVersion(text: string, { importer, name }: LockQuery): string | undefined {
  const lines = text.split(/\r?\n/);
  const start = importerStart(lines, importer);
  if (start === undefined) return undefined;
  const base = start.indent;
  for (let i = start.line; i < lines.length; i++) {
    const entry = keyLine(lines[i]!);
    if (!entry) continue;
    if (entry.indent < base) break;
    if (entry.indent !== base || !/^(?:dependencies|devDependencies|optionalDependencies)$/.test(entry.key)) continue;
    for (let j = i + 1; j < lines.length; j++) {
      const dep = keyLine(lines[j]!);
      if (!dep) continue;
      if (dep.indent <= base) break;
      if (dep.indent !== base + 2 || dep.key !== name) continue;
      if (dep.value) return cleanVersion(dep.value);
      const version = lines.slice(j + 1).map(keyLine).find((line) => line && (line.indent <= base + 2 || line.key === "version"));
      return version && version.indent > base + 2 ? cleanVersion(version.value) : undefined;
    }
  }
  return undefined;
}

/** Where the importer's keys start: under `importers:`, or the file's top level when it has no importers. */
function importerStart(lines: string[], importer: string): { line: number; indent: number } | undefined {
  const top = lines.findIndex((line) => /^importers:\s*$/.test(line));
  if (top === -1) return importer === "." ? { line: 0, indent: 0 } : undefined;
  for (let i = top + 1; i < lines.length; i++) {
    const entry = keyLine(lines[i]!);
    if (!entry) continue;
    if (entry.indent === 0) return undefined;
    if (entry.indent === 2 && entry.key === importer) return { line: i + 1, indent: 4 };
  }
  return undefined;
}

function keyLine(line: string): { indent: number; key: string; value: string } | undefined {
  const match = /^( *)(?:'([^']*)'|"([^"]*)"|([^\s'"#][^:]*?)):(?:\s+(.*?))?\s*$/.exec(line);
  if (!match) return undefined;
  return { indent: match[1]!.length, key: match[2] ?? match[3] ?? match[4]!, value: (match[5] ?? "").replace(/^['"]|['"]$/g, "") };
}

/** `0.5.10(@cloudflare/workers-types@4.2)` (6, 9) or `0.5.10_abc` (5.x) → `0.5.10`; a link or a path is no version. */
function cleanVersion(value: string): string | undefined {
  const version = value.split("(")[0]!.split("_")[0]!.trim();
  return /^\d+\.\d+\.\d+/.test(version) ? version : undefined;
}

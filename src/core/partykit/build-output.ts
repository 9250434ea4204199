import path from "node:path";
import type { ReadFile } from "../read-file.js";

/** Folders bundlers and PartyKit write their output to. */
const OUTPUT_FOLDERS = ["dist", "build", "out", ".partykit"];
const SOURCE_MAP_COMMENT = /^\/\/# sourceMappingURL=(\S+)\s*$/m;
/** esbuild starts each bundled module with a comment naming its source: `// src/server.ts`. */
const BUNDLED_MODULE_COMMENT = /^\/\/ ((?:\.\.?\/)*[\w@.-]+(?:\/[\w@.-]+)*\.(?:tsx?|mts|jsx))$/gm;
const WEBPACK_HEADER = /^\/\*{6}\/ /m;

/**
 * Why `file` looks like a build output rather than a source (patching it would be overwritten
 * by the next build), or undefined when it looks like a source.
 */
export function buildOutputReason(file: string, text: string): string | undefined {
  const folder = file.split("/").slice(0, -1).find((segment) => OUTPUT_FOLDERS.includes(segment));
  if (folder) return `it is under ${folder}/`;
  if (SOURCE_MAP_COMMENT.test(text)) return "it ends with a source map comment";
  if (/\.[cm]?js$/.test(file) && (WEBPACK_HEADER.test(text) || new RegExp(BUNDLED_MODULE_COMMENT.source, "m").test(text))) {
    return "it is a bundle of other modules";
  }
  return undefined;
}

/**
 * The project files a build output was made from, root-relative: the `sources` of its source
 * map (a file beside it or inline) and the modules esbuild names in its comments.
 */
export async function sourcesOf(file: string, text: string, read: ReadFile): Promise<string[]> {
  const dir = path.posix.dirname(file);
  const sources = [...text.matchAll(BUNDLED_MODULE_COMMENT)].map((match) => match[1]!);
  const mapUrl = SOURCE_MAP_COMMENT.exec(text)?.[1];
  const inline = mapUrl ? /^data:application\/json(?:;charset=[\w-]+)?;base64,(.+)$/.exec(mapUrl) : null;
  const mapFile = mapUrl && !inline ? path.posix.join(dir, mapUrl) : file;
  const map = mapUrl ? await readSourceMap(inline ? Buffer.from(inline[1]!, "base64").toString("utf8") : mapFile, read) : undefined;
  const fromMap = map ? map.sources.map((source) => path.posix.normalize(path.posix.join(path.posix.dirname(mapFile), map.sourceRoot, source))) : [];
  // esbuild's comments are relative to where it ran, usually the project root.
  return [...new Set([...fromMap, ...sources.map((source) => path.posix.normalize(source))])].filter((source) => /\.(?:[cm]?[jt]sx?)$/.test(source));
}

/** A source map's sources; `map` is its JSON text (inline) or the root-relative path of its file. */
async function readSourceMap(map: string, read: ReadFile): Promise<{ sourceRoot: string; sources: string[] } | undefined> {
  try {
    const text = map.trimStart().startsWith("{") ? map : await read(map);
    if (text === null) return undefined;
    const parsed = JSON.parse(text) as { sources?: unknown; sourceRoot?: unknown };
    const sources = Array.isArray(parsed.sources) ? parsed.sources.filter((source): source is string => typeof source === "string") : [];
    return { sourceRoot: typeof parsed.sourceRoot === "string" ? parsed.sourceRoot : "", sources };
  } catch {
    // A map that is missing, unreadable or not JSON names no sources; the usual places still count.
    return undefined;
  }
}

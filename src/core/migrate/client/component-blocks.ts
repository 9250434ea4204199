/** Single-file components: their code lives in `<script>` blocks (and Astro's `---` frontmatter). */
export const COMPONENT = /\.(svelte|vue|astro)$/;

/** The code of one block, as a slice of the component's text. */
export interface ScriptBlock {
  /** Offsets of the code in the file: after the opening tag's line, before `</script>`. */
  start: number;
  end: number;
  /** 1-based line and column of `start`, to place what is found in the block in the file. */
  line: number;
  col: number;
  /** The extension the code is parsed with. */
  extension: "ts" | "js" | "tsx" | "jsx";
}

/** A block whose code is not JavaScript or TypeScript (`lang="coffee"`): left alone, and said. */
export interface ForeignBlock {
  line: number;
  col: number;
  language: string;
  code: string;
}

export interface ComponentBlocks {
  blocks: ScriptBlock[];
  foreign: ForeignBlock[];
  /** A block that never ends: the component is not read at all, since where its code stops cannot be told. */
  unterminated?: { line: number; col: number; what: string };
}

const LANGUAGES: Record<string, ScriptBlock["extension"]> = { js: "js", javascript: "js", ts: "ts", typescript: "ts", jsx: "jsx", tsx: "tsx" };
// `type` values that still mean script code; any other (JSON, a template) is not code migrate can read.
const SCRIPT_TYPES = new Set(["module", "text/javascript", "application/javascript", "text/typescript", "ts"]);
// Data (JSON-LD, an import map) or markup (a template) holds no code at all: skipped without a word.
const DATA_TYPE = /json|importmap|template|html/;
const ATTRIBUTE = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g;

/**
 * The script blocks of a `.svelte`, `.vue` or `.astro` file, found without a template parser (a
 * project need not have the framework's compiler installed): `<script>` tags outside HTML comments,
 * and Astro's frontmatter, which is always TypeScript. A block with `src` holds no code of its own.
 * Svelte and Vue script is JavaScript unless `lang` says otherwise; Astro's bundled `<script>` is
 * TypeScript, its `is:inline` one plain JavaScript.
 */
export function componentBlocks(file: string, text: string): ComponentBlocks {
  const astro = file.endsWith(".astro");
  const found: ComponentBlocks = { blocks: [], foreign: [] };
  let from = 0;
  if (astro) {
    const open = /^\s*---[ \t]*\r?\n/.exec(text);
    if (open) {
      const close = /^---[ \t]*$/m.exec(text.slice(open[0].length));
      if (!close) return { ...found, unterminated: { ...lineAndCol(text, open[0].indexOf("-")), what: "The frontmatter's `---` is never closed" } };
      const start = open[0].length;
      found.blocks.push({ start, end: start + close.index, ...lineAndCol(text, start), extension: "ts" });
      from = start + close.index + close[0].length;
    }
  }
  const tag = /<!--|<script(?=[\s>/])/gi;
  tag.lastIndex = from;
  for (let match = tag.exec(text); match; match = tag.exec(text)) {
    if (match[0] === "<!--") {
      const end = text.indexOf("-->", match.index + 4);
      if (end === -1) break;
      tag.lastIndex = end + 3;
      continue;
    }
    const openEnd = tagEnd(text, match.index + match[0].length);
    const selfClosing = openEnd !== -1 && text[openEnd - 2] === "/";
    const close = openEnd === -1 ? -1 : selfClosing ? 0 : text.slice(openEnd).search(/<\/script\s*>/i);
    if (close === -1) return { ...found, unterminated: { ...lineAndCol(text, match.index), what: "This `<script>` is never closed" } };
    const end = openEnd + close;
    tag.lastIndex = end;
    const attributes = readAttributes(text.slice(match.index + match[0].length, openEnd - 1));
    const type = attributes.type?.toLowerCase();
    if ("src" in attributes || selfClosing || (type && DATA_TYPE.test(type))) continue;
    const lang = attributes.lang?.toLowerCase() ?? (type !== undefined && !SCRIPT_TYPES.has(type) ? type : undefined);
    const extension = lang === undefined ? (astro && !("is:inline" in attributes) ? "ts" : type === "text/typescript" || type === "ts" ? "ts" : "js") : LANGUAGES[lang];
    // The code starts on the line after the tag when the tag ends its line: an import added first then sits on a line of its own.
    const start = openEnd + (/^[ \t]*\r?\n/.exec(text.slice(openEnd, end))?.[0].length ?? 0);
    if (extension) found.blocks.push({ start, end, ...lineAndCol(text, start), extension });
    else found.foreign.push({ ...lineAndCol(text, match.index), language: lang!, code: text.slice(openEnd, end) });
  }
  return found;
}

/** The offset just past the opening tag's `>` (quoted attribute values may hold one), or -1. */
function tagEnd(text: string, from: number): number {
  let quote: string | undefined;
  for (let index = from; index < text.length; index++) {
    const char = text[index]!;
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === ">") return index + 1;
  }
  return -1;
}

function readAttributes(source: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of source.matchAll(ATTRIBUTE)) attributes[match[1]!.toLowerCase()] = match[2] ?? match[3] ?? match[4] ?? "";
  return attributes;
}

/** 1-based, counting lines by `\n` as the compiler does, so block positions and file positions agree. */
export function lineAndCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let index = text.indexOf("\n"); index !== -1 && index < offset; index = text.indexOf("\n", index + 1)) {
    line++;
    lineStart = index + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

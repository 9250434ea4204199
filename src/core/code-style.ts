import path from "node:path";
import { IndentationText, NewLineKind, QuoteKind, type Project, type SourceFile } from "ts-morph";

/** How a file is written, so inserted code looks like the code around it. */
export interface CodeStyle {
  indent: string;
  quote: '"' | "'";
  semicolons: boolean;
  newline: "\n" | "\r\n";
}

export function detectCodeStyle(text: string): CodeStyle {
  const indents = text.match(/^[ \t]+(?=\S)/gm) ?? [];
  const tab = indents.filter((indent) => indent.startsWith("\t")).length;
  const smallestSpaces = Math.min(...indents.filter((indent) => !indent.includes("\t")).map((indent) => indent.length), 8);
  const indent = tab > indents.length / 2 ? "\t" : " ".repeat(smallestSpaces >= 4 ? 4 : 2);
  const single = (text.match(/^import [^\n]*'[^'\n]*';?$/gm) ?? []).length + (text.match(/'[^'\n]*'/g) ?? []).length;
  const double = (text.match(/^import [^\n]*"[^"\n]*";?$/gm) ?? []).length + (text.match(/"[^"\n]*"/g) ?? []).length;
  // A file in no-semicolon style has no line ending in one.
  const semicolonEnds = text.match(/;[ \t]*$/gm)?.length ?? 0;
  return {
    indent,
    quote: single > double ? "'" : '"',
    semicolons: semicolonEnds > 0,
    newline: text.includes("\r\n") ? "\r\n" : "\n",
  };
}

/** Makes ts-morph print what it inserts into `file` in the file's own style. */
export function useCodeStyle(project: Project, file: SourceFile): CodeStyle {
  const style = detectCodeStyle(file.getFullText());
  project.manipulationSettings.set({
    indentationText: style.indent === "\t" ? IndentationText.Tab : style.indent.length === 4 ? IndentationText.FourSpaces : IndentationText.TwoSpaces,
    quoteKind: style.quote === "'" ? QuoteKind.Single : QuoteKind.Double,
    newLineKind: style.newline === "\r\n" ? NewLineKind.CarriageReturnLineFeed : NewLineKind.LineFeed,
  });
  return style;
}

/** A statement in the file's style: with or without its semicolon. */
export function statement(style: CodeStyle, code: string): string {
  return style.semicolons ? `${code};` : code;
}

/**
 * How `fromFile` should import `toFile` (a .ts module): relative, without the extension, or
 * with `.js` when the file already writes extensions on its relative imports (NodeNext style).
 */
export function relativeImport(fromFile: string, toFile: string, text: string): string {
  let specifier = path.posix.relative(path.posix.dirname(toPosix(fromFile)), toPosix(toFile)).replace(/\.ts$/, "");
  if (!specifier.startsWith(".")) specifier = `./${specifier}`;
  return /from\s+["']\.{1,2}\/[^"']+\.js["']/.test(text) ? `${specifier}.js` : specifier;
}

function toPosix(file: string): string {
  return file.split(path.sep).join("/");
}

import path from "node:path";

/** How a file is written, so inserted code looks like the code around it. */
export interface CodeStyle {
  /** One level of indentation: the smallest step by which a line goes deeper than the one before. */
  indent: string;
  quote: '"' | "'";
  semicolons: boolean;
  newline: "\n" | "\r\n";
}

/** The one place party-shard reads a file's style: indent unit, quotes, semicolons, line ends. */
export function detectCodeStyle(text: string): CodeStyle {
  const indent = detectIndentUnit(text);
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

/** The smallest step by which one line is indented deeper than the line before it. */
function detectIndentUnit(text: string): string {
  let previous = "";
  let unit: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const indent = /^[ \t]*/.exec(line)![0];
    if (indent.length > previous.length && indent.startsWith(previous)) {
      const step = indent.slice(previous.length);
      if (unit === undefined || step.length < unit.length) unit = step;
    }
    previous = indent;
  }
  return unit ?? "  ";
}

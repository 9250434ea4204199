import { Node, ts, type ImportDeclaration, type SourceFile } from "ts-morph";
import { statement, type CodeStyle } from "./code-style.js";
import { lineIndent, type Edit } from "./text-edits.js";

export interface NamedImport {
  /** The names the file must import. */
  names: string[];
  /** How a new import names the module. */
  specifier: string;
  /** Whether an existing import is of that module (by specifier, or by the file it resolves to). */
  isModule: (declaration: ImportDeclaration) => boolean;
  /** Names that module no longer exports: an import of them is rewritten without them. */
  gone?: string[];
}

/**
 * Edits that make `file` import `names` from a module, the one way party-shard adds imports:
 * missing names join an existing value import of the module; an import of names the module no
 * longer exports is rewritten; otherwise a new import goes after the last import (or after the
 * leading directives such as "use client"), or first in the file after its header. In the
 * file's own style.
 */
export function importEdits(file: SourceFile, wanted: NamedImport, style: CodeStyle): Edit[] {
  const existing = file.getImportDeclarations().find((declaration) => !declaration.isTypeOnly() && wanted.isModule(declaration));
  const named = existing?.getNamedImports() ?? [];
  const bound = new Set(named.map((specifier) => specifier.getAliasNode()?.getText() ?? specifier.getName()));
  const gone = named.filter((specifier) => wanted.gone?.includes(specifier.getName()));
  const missing = wanted.names.filter((name) => !bound.has(name)).sort();
  const line = (names: string[], specifier: string) => statement(style, `import { ${names.join(", ")} } from ${style.quote}${specifier}${style.quote}`);

  if (existing && gone.length > 0 && !existing.getDefaultImport()) {
    const kept = named.filter((specifier) => !gone.includes(specifier)).map((specifier) => specifier.getText());
    return [{ at: existing.getStart(), end: existing.getEnd(), insert: line([...kept, ...missing], wanted.specifier) }];
  }
  if (missing.length === 0) return [];
  if (named.length > 0) return [{ at: named.at(-1)!.getEnd(), insert: missing.map((name) => `, ${name}`).join("") }];
  const anchor = file.getImportDeclarations().at(-1) ?? directives(file).at(-1);
  // Indented like the code around it: a component's script block may indent its whole body.
  if (anchor) return [{ at: anchor.getEnd(), insert: `${style.newline}${lineIndent(file.getFullText(), anchor.getStart())}${line(missing, wanted.specifier)}` }];
  const header = headerEnd(file.getFullText());
  const first = file.getStatements()[0];
  const indent = first ? lineIndent(file.getFullText(), first.getStart()) : "";
  if (header === undefined) return [{ at: 0, insert: `${indent}${line(missing, wanted.specifier)}${style.newline}${style.newline}` }];
  // A blank line parts a licence from the import; a pragma keeps the import right below it.
  const before = header.pragma ? style.newline : style.newline + style.newline;
  return [{ at: header.end, insert: `${before}${line(missing, wanted.specifier)}${header.blankAfter ? "" : style.newline}` }];
}

/**
 * Where the file's header ends, if it has one: a shebang, pragmas (`// @ts-check`, `@jsx`) and
 * comments set off from the code by a blank line. A first import goes after it, so a pragma keeps
 * working; a comment right above the code (a JSDoc `@type`) stays with the code.
 */
function headerEnd(text: string): { end: number; blankAfter: boolean; pragma: boolean } | undefined {
  let header: { end: number; blankAfter: boolean; pragma: boolean } | undefined;
  const blankAfter = (end: number) => /^[ \t]*\r?\n[ \t]*\r?\n/.test(text.slice(end));
  let start = 0;
  if (text.startsWith("#!")) {
    start = text.indexOf("\n") === -1 ? text.length : text.indexOf("\n");
    header = { end: start, blankAfter: blankAfter(start), pragma: true };
  }
  for (const range of ts.getLeadingCommentRanges(text, start) ?? []) {
    const pragma = /^\/[/*]\**\s*@(?:ts-(?:no)?check|jsx\w*)\b/.test(text.slice(range.pos, range.end));
    if (pragma || blankAfter(range.end)) header = { end: range.end, blankAfter: blankAfter(range.end), pragma };
  }
  return header;
}

/** Leading "use client"-style statements, which must stay first. */
function directives(file: SourceFile): Node[] {
  const found: Node[] = [];
  for (const statement of file.getStatements()) {
    if (!Node.isExpressionStatement(statement) || !Node.isStringLiteral(statement.getExpression())) break;
    found.push(statement);
  }
  return found;
}

import { SyntaxKind, type ArrayLiteralExpression, type Node, type ObjectLiteralExpression } from "ts-morph";

/** Replace `text[at, end)` with `insert` (a pure insertion when `end` is absent). */
export interface Edit {
  at: number;
  end?: number;
  insert: string;
}

/** How an object literal's file lays out properties, so an added one looks native. */
export interface ObjectLayout {
  newline: string;
  unit: string;
  trailingCommas: boolean;
}

/** Where nodes sit in `text`: ts-morph positions, shifted when the parsed text was wrapped. */
export interface Offsets {
  start(node: Node): number;
  end(node: Node): number;
}

const IDENTITY_OFFSETS: Offsets = { start: (node) => node.getStart(), end: (node) => node.getEnd() };

/** Applies edits from the end backwards; edits at the same offset land in the order given. */
export function applyEdits(text: string, edits: Edit[]): string {
  let result = text;
  const ordered = edits.map((edit, index) => ({ ...edit, index }));
  for (const edit of ordered.sort((a, b) => b.at - a.at || b.index - a.index)) {
    result = result.slice(0, edit.at) + edit.insert + result.slice(edit.end ?? edit.at);
  }
  return result;
}

/**
 * Edits that add one property at the end of `object`, on its own line when the object spans
 * lines and inline otherwise. `render(indent)` gets the property's indentation ("" inline).
 */
export function insertPropertyEdits(
  text: string,
  object: ObjectLiteralExpression,
  render: (indent: string) => string,
  layout: ObjectLayout,
  offsets: Offsets = IDENTITY_OFFSETS,
): Edit[] {
  const open = offsets.start(object);
  const close = offsets.end(object) - 1;
  const multiline = text.slice(open, close).includes("\n");
  const last = object.getProperties().at(-1);
  const comma = trailingComma(object);

  if (!multiline) {
    if (!last) return [{ at: open + 1, insert: ` ${render("")} ` }];
    return comma
      ? [{ at: offsets.end(comma), insert: ` ${render("")},` }]
      : [{ at: offsets.end(last), insert: `, ${render("")}` }];
  }

  const indent = last ? lineIndent(text, offsets.start(last)) : lineIndent(text, open) + layout.unit;
  const property = `${indent}${render(indent)}${layout.trailingCommas ? "," : ""}`;
  if (!last) return [{ at: open + 1, insert: `${layout.newline}${property}` }];

  const afterLast = comma ? offsets.end(comma) : offsets.end(last);
  const edits: Edit[] = comma ? [] : [{ at: offsets.end(last), insert: "," }];
  edits.push({ at: endOfLineAfter(text, afterLast), insert: `${layout.newline}${property}` });
  return edits;
}

/** A bracketed list (`[…]`, `{…}`) in a text: its brackets, its last item, and the end of a comma after that item. */
export interface ListSpan {
  open: number;
  close: number;
  last?: { start: number; end: number };
  trailingComma?: number;
}

/**
 * Edits that add `item` last in `list`: on a line of its own when the list spans lines, else
 * inline (`pad` spaces an empty inline list: `{ item }`). A trailing comma stays the list's habit.
 */
export function appendItemEdits(text: string, list: ListSpan, item: string, layout: ObjectLayout, pad = false): Edit[] {
  const { open, close, last, trailingComma: comma } = list;
  if (!text.slice(open, close).includes("\n")) {
    if (!last) return [{ at: open + 1, insert: pad ? ` ${item} ` : item }];
    return comma === undefined ? [{ at: last.end, insert: `, ${item}` }] : [{ at: comma, insert: ` ${item},` }];
  }
  const indent = last ? lineIndent(text, last.start) : lineIndent(text, open) + layout.unit;
  const line = `${layout.newline}${indent}${item}${comma !== undefined || (!last && layout.trailingCommas) ? "," : ""}`;
  if (!last) return [{ at: open + 1, insert: line }];
  const commaEdit = comma === undefined ? [{ at: last.end, insert: "," }] : [];
  return [...commaEdit, { at: endOfLineAfter(text, comma ?? last.end), insert: line }];
}

/** The comma token right after the last property (or element), if the file uses trailing commas there. */
export function trailingComma(object: ObjectLiteralExpression | ArrayLiteralExpression): Node | undefined {
  const last = object.getFirstChildByKind(SyntaxKind.SyntaxList)?.getLastChild();
  return last?.getKind() === SyntaxKind.CommaToken ? last : undefined;
}

/** Past any comment that ends the line, so `"main": "x" // entry` (or TOML's `# entry`) keeps its comment. */
export function endOfLineAfter(text: string, offset: number): number {
  const lineEnd = text.indexOf("\n", offset);
  const end = lineEnd === -1 ? text.length : lineEnd;
  const rest = text.slice(offset, end).replace(/\r$/, "");
  const onlyComment = /^\s*(\/\/.*|\/\*.*?\*\/\s*|#.*)?$/.test(rest);
  return onlyComment ? offset + rest.length : offset;
}

export function lineIndent(text: string, offset: number): string {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))?.[0] ?? "";
}

import { Node, type ObjectLiteralExpression, type PropertyAssignment } from "ts-morph";
import {
  findProperty,
  nodeEnd,
  textOffset,
  trailingComma,
  type ConfigDocument,
} from "./config-document.js";

/** How the file is written, so that what we add looks like it was always there. */
interface Style {
  newline: string;
  unit: string;
  keyQuote: string;
  valueQuote: string;
  trailingCommas: boolean;
}

interface Edit {
  at: number;
  insert: string;
}

/**
 * Returns the config text with `parties[name] = file` added, touching nothing else:
 * comments, key order, indentation and quotes stay as they are. The caller has already
 * checked that `parties[name]` is not there.
 */
export function addPartyEntry(document: ConfigDocument, name: string, file: string): string {
  const style = detectStyle(document);
  const parties = findProperty(document.config, "parties")?.getInitializer();
  const entry = `${key(name, style)}: ${quote(file, style.valueQuote)}`;
  const edits = Node.isObjectLiteralExpression(parties)
    ? insertProperty(document, parties, () => entry, style)
    : insertProperty(document, document.config, (indent) => `${key("parties", style)}: ${nestedObject(entry, indent, style)}`, style);
  return applyEdits(document.text, edits);
}

function nestedObject(entry: string, indent: string, style: Style): string {
  if (indent === "") return `{ ${entry} }`;
  const inner = indent + style.unit;
  return `{${style.newline}${inner}${entry}${style.trailingCommas ? "," : ""}${style.newline}${indent}}`;
}

/** `render(indent)` gets the new property's indentation, or "" when the object is on one line. */
function insertProperty(
  document: ConfigDocument,
  object: ObjectLiteralExpression,
  render: (indent: string) => string,
  style: Style,
): Edit[] {
  const { text } = document;
  const open = textOffset(object);
  const close = nodeEnd(object) - 1;
  const multiline = text.slice(open, close).includes("\n");
  const last = object.getProperties().at(-1);
  const comma = trailingComma(object);

  if (!multiline) {
    if (!last) return [{ at: open + 1, insert: ` ${render("")} ` }];
    return comma
      ? [{ at: nodeEnd(comma), insert: ` ${render("")},` }]
      : [{ at: nodeEnd(last), insert: `, ${render("")}` }];
  }

  const indent = last ? lineIndent(text, textOffset(last)) : lineIndent(text, open) + style.unit;
  const property = `${indent}${render(indent)}${style.trailingCommas ? "," : ""}`;
  if (!last) return [{ at: open + 1, insert: `${style.newline}${property}` }];

  const afterLast = comma ? nodeEnd(comma) : nodeEnd(last);
  const edits: Edit[] = comma ? [] : [{ at: nodeEnd(last), insert: "," }];
  edits.push({ at: endOfLineAfter(text, afterLast), insert: `${style.newline}${property}` });
  return edits;
}

/** Past any comment that ends the line, so `"main": "x" // entry` keeps its comment. */
function endOfLineAfter(text: string, offset: number): number {
  const lineEnd = text.indexOf("\n", offset);
  const end = lineEnd === -1 ? text.length : lineEnd;
  const rest = text.slice(offset, end).replace(/\r$/, "");
  const onlyComment = /^\s*(\/\/.*|\/\*.*?\*\/\s*)?$/.test(rest);
  return onlyComment ? offset + rest.length : offset;
}

function lineIndent(text: string, offset: number): string {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  return /^[ \t]*/.exec(text.slice(lineStart))?.[0] ?? "";
}

function detectStyle(document: ConfigDocument): Style {
  const { text, config } = document;
  const first = config.getProperties()[0];
  const firstName = Node.isPropertyAssignment(first) ? first.getNameNode() : undefined;
  const keyQuote = Node.isStringLiteral(firstName) ? firstName.getText()[0]! : firstName ? "" : '"';
  const stringValue = config
    .getDescendants()
    .find((node) => Node.isPropertyAssignment(node) && Node.isStringLiteral(node.getInitializer()));
  const valueQuote = (stringValue as PropertyAssignment | undefined)?.getInitializerOrThrow().getText()[0] ?? (keyQuote || '"');
  return {
    newline: text.includes("\r\n") ? "\r\n" : "\n",
    unit: detectIndentUnit(text),
    keyQuote,
    valueQuote,
    trailingCommas: trailingComma(config) !== undefined,
  };
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

function key(name: string, style: Style): string {
  const bare = style.keyQuote === "" && /^[A-Za-z_$][\w$]*$/.test(name);
  return bare ? name : quote(name, style.keyQuote || style.valueQuote);
}

function quote(value: string, mark: string): string {
  const escaped = value.replace(/\\/g, "\\\\").replaceAll(mark, `\\${mark}`);
  return `${mark}${escaped}${mark}`;
}

/** Applies edits from the end backwards; edits at the same offset land in the order given. */
function applyEdits(text: string, edits: Edit[]): string {
  let result = text;
  const ordered = edits.map((edit, index) => ({ ...edit, index }));
  for (const edit of ordered.sort((a, b) => b.at - a.at || b.index - a.index)) {
    result = result.slice(0, edit.at) + edit.insert + result.slice(edit.at);
  }
  return result;
}

import { Node, type PropertyAssignment } from "ts-morph";
import { detectCodeStyle } from "../code-style.js";
import { applyEdits, insertPropertyEdits, trailingComma } from "../text-edits.js";
import { findProperty, nodeEnd, textOffset, type ConfigDocument } from "./config-document.js";

/** How the file is written, so that what we add looks like it was always there. */
interface Style {
  newline: string;
  unit: string;
  keyQuote: string;
  valueQuote: string;
  trailingCommas: boolean;
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
  const offsets = { start: textOffset, end: nodeEnd };
  const edits = Node.isObjectLiteralExpression(parties)
    ? insertPropertyEdits(document.text, parties, () => entry, style, offsets)
    : insertPropertyEdits(document.text, document.config, (indent) => `${key("parties", style)}: ${nestedObject(entry, indent, style)}`, style, offsets);
  return applyEdits(document.text, edits);
}

function nestedObject(entry: string, indent: string, style: Style): string {
  if (indent === "") return `{ ${entry} }`;
  const inner = indent + style.unit;
  return `{${style.newline}${inner}${entry}${style.trailingCommas ? "," : ""}${style.newline}${indent}}`;
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
  const { newline, indent } = detectCodeStyle(text);
  return {
    newline,
    unit: indent,
    keyQuote,
    valueQuote,
    trailingCommas: trailingComma(config) !== undefined,
  };
}

function key(name: string, style: Style): string {
  const bare = style.keyQuote === "" && /^[A-Za-z_$][\w$]*$/.test(name);
  return bare ? name : quote(name, style.keyQuote || style.valueQuote);
}

function quote(value: string, mark: string): string {
  const escaped = value.replace(/\\/g, "\\\\").replaceAll(mark, `\\${mark}`);
  return `${mark}${escaped}${mark}`;
}

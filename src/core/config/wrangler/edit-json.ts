import { Node, type ArrayLiteralExpression, type ObjectLiteralExpression } from "ts-morph";
import { detectCodeStyle } from "../../code-style.js";
import { appendItemEdits, applyEdits, insertPropertyEdits, trailingComma, type Edit, type ObjectLayout } from "../../text-edits.js";
import { nodeEnd, parseConfigDocument, textOffset, type ConfigDocument } from "../config-document.js";
import { ROUTER_BINDING } from "./names.js";
import type { LoadedWrangler } from "./loaded-wrangler.js";
import { nodeAt } from "./read-json.js";
import { ROUTER_BINDING_ENTRY, type RouterNeeds } from "./router-needs.js";

const OFFSETS = { start: textOffset, end: nodeEnd };

/** A property to add, rendered at the indentation it lands on ("" when inline). */
type Property = (indent: string) => string;

/** Adds what `needs` lists to a wrangler.json(c), through its syntax tree so comments and layout stay. */
export function editJsonConfig(loaded: LoadedWrangler, needs: RouterNeeds): string {
  const document = parseConfigDocument(loaded.text, false)!;
  const { newline, indent: unit } = detectCodeStyle(loaded.text);
  const layout: ObjectLayout = { newline, unit, trailingCommas: trailingComma(document.config) !== undefined };
  const binding = `{ "name": ${JSON.stringify(ROUTER_BINDING_ENTRY.name)}, "class_name": ${JSON.stringify(ROUTER_BINDING_ENTRY.class_name)} }`;
  const migration = `{ "tag": ${JSON.stringify(needs.tag)}, "new_sqlite_classes": [${JSON.stringify(ROUTER_BINDING)}] }`;
  // Properties added to one object are rendered together, so that commas between them come out right.
  const added = new Map<ObjectLiteralExpression, Property[]>();
  const addProperty = (object: ObjectLiteralExpression, property: Property) => added.set(object, [...(added.get(object) ?? []), property]);
  const edits: Edit[] = [];

  for (const { scope } of needs.bindings) {
    const holder = objectAt(document, scope);
    const durableObjects = nodeAt(document, [...scope, "durable_objects"]);
    const list = nodeAt(document, [...scope, "durable_objects", "bindings"]);
    if (Node.isArrayLiteralExpression(list)) edits.push(...appendElementEdits(loaded.text, list, binding, layout));
    else if (Node.isObjectLiteralExpression(durableObjects)) addProperty(durableObjects, () => `"bindings": [${binding}]`);
    else addProperty(holder, (indent) => `"durable_objects": ${nested(`"bindings": [${binding}]`, indent, layout)}`);
  }
  for (const { scope } of needs.migrations) {
    const list = nodeAt(document, [...scope, "migrations"]);
    if (Node.isArrayLiteralExpression(list)) edits.push(...appendElementEdits(loaded.text, list, migration, layout));
    else addProperty(objectAt(document, scope), () => `"migrations": [${migration}]`);
  }
  for (const [object, properties] of added) {
    const render = (indent: string) => properties.map((property) => property(indent)).join(indent === "" ? ", " : `,${newline}${indent}`);
    edits.push(...insertPropertyEdits(loaded.text, object, render, layout, OFFSETS));
  }
  return applyEdits(loaded.text, edits);
}

function objectAt(document: ConfigDocument, scope: (string | number)[]): ObjectLiteralExpression {
  const node = scope.length === 0 ? document.config : nodeAt(document, scope);
  // The loader has checked that every scope it reports is an object.
  if (!Node.isObjectLiteralExpression(node)) throw new Error(`${scope.join(".")} is not an object`);
  return node;
}

/** `{ <entry> }` laid out as the file lays out objects: on lines of their own unless inline. */
function nested(entry: string, indent: string, layout: ObjectLayout): string {
  if (indent === "") return `{ ${entry} }`;
  return `{${layout.newline}${indent}${layout.unit}${entry}${layout.trailingCommas ? "," : ""}${layout.newline}${indent}}`;
}

/** Edits that add `element` last in `array`: on a line of its own when the array spans lines, else inline. */
function appendElementEdits(text: string, array: ArrayLiteralExpression, element: string, layout: ObjectLayout): Edit[] {
  const last = array.getElements().at(-1);
  const comma = trailingComma(array);
  return appendItemEdits(
    text,
    {
      open: textOffset(array),
      close: nodeEnd(array) - 1,
      ...(last ? { last: { start: textOffset(last), end: nodeEnd(last) } } : {}),
      ...(comma ? { trailingComma: nodeEnd(comma) } : {}),
    },
    element,
    layout,
  );
}

import { Node, type ObjectLiteralExpression } from "ts-morph";
import { PartyShardError } from "../../../errors.js";
import { findProperty, locate, parseConfigDocument, propertyName, type ConfigDocument } from "../config-document.js";
import { refuseDuplicatesIn } from "../duplicate-keys.js";
import { parseJson5 } from "../parse-json5.js";
import type { ConfigPath, ReadConfig } from "./read-config.js";

/**
 * Reads a wrangler.json / wrangler.jsonc: the data (json5 takes comments and trailing commas),
 * and lines from the same text parsed with ts-morph, which edits use too.
 */
export function readJsonConfig(file: string, text: string): ReadConfig & { document: ConfigDocument } {
  const data = parseJson5(text, file, file);
  const document = parseConfigDocument(text, false);
  if (!document) throw new PartyShardError(`${file} must be an object.`, { location: { file, line: 1 } });
  refuseDuplicates(file, document);
  return { data, document, lineOf: (path) => lineOf(document, path) };
}

/** The node at `path` (property names and array indexes), or undefined. */
export function nodeAt(document: ConfigDocument, path: ConfigPath): Node | undefined {
  let node: Node | undefined = document.config;
  for (const step of path) {
    if (typeof step === "string" && Node.isObjectLiteralExpression(node)) node = findProperty(node, step)?.getInitializer();
    else if (typeof step === "number" && Node.isArrayLiteralExpression(node)) node = node.getElements()[step];
    else return undefined;
  }
  return node;
}

function lineOf(document: ConfigDocument, path: ConfigPath): number | undefined {
  const node = nodeAt(document, path);
  if (!node) return undefined;
  // A property's line is where its key is, not where its value starts.
  const parent = node.getParent();
  return locate(document, Node.isPropertyAssignment(parent) ? parent : node).line;
}

/**
 * JSON parsers keep the last of two equal keys while an edit lands beside the first, so a key
 * written twice in an object party-shard reads or edits is refused, naming both lines.
 */
function refuseDuplicates(file: string, document: ConfigDocument): void {
  const objects: [ObjectLiteralExpression, string][] = [];
  const add = (path: ConfigPath, where: string) => {
    const node = path.length === 0 ? document.config : nodeAt(document, path);
    if (Node.isObjectLiteralExpression(node)) objects.push([node, where]);
    return node;
  };
  add([], "");
  add(["durable_objects"], ` in "durable_objects"`);
  const env = add(["env"], ` in "env"`);
  for (const property of Node.isObjectLiteralExpression(env) ? env.getProperties() : []) {
    if (!Node.isPropertyAssignment(property)) continue;
    const name = propertyName(property);
    add(["env", name], ` in "env.${name}"`);
    add(["env", name, "durable_objects"], ` in "env.${name}.durable_objects"`);
  }
  for (const [object, where] of objects) refuseDuplicatesIn(file, document, object, where, "wrangler");
}

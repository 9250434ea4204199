import { Node, type ObjectLiteralExpression, type PropertyAssignment } from "ts-morph";
import { PartyShardError } from "../../errors.js";
import { findProperty, locate, propertyName, type ConfigDocument } from "./config-document.js";

/**
 * Throws, naming every line, when a key party-shard reads is written twice: in the config
 * object, in `parties`, or `partykit` in package.json. JSON parsers keep the last one while
 * an edit lands next to the first, so guessing would write a config that means something else.
 */
export function refuseDuplicateKeys(file: string, document: ConfigDocument): void {
  const holder = document.config.getParent()?.getParent();
  if (Node.isPropertyAssignment(document.config.getParent()) && Node.isObjectLiteralExpression(holder)) {
    refuseDuplicatesIn(file, document, holder, "", "partykit", (name) => name === "partykit");
  }
  refuseDuplicatesIn(file, document, document.config, "", "partykit");
  const parties = findProperty(document.config, "parties")?.getInitializer();
  if (Node.isObjectLiteralExpression(parties)) refuseDuplicatesIn(file, document, parties, ` in "parties"`, "partykit");
}

/**
 * Throws when a key of `object` (those `matters` keeps) is written more than once, naming every
 * line; `where` says which object, `tool` which program silently takes the last one.
 */
export function refuseDuplicatesIn(file: string, document: ConfigDocument, object: ObjectLiteralExpression, where: string, tool: string, matters: (name: string) => boolean = () => true): void {
  const seen = new Map<string, PropertyAssignment[]>();
  for (const property of object.getProperties()) {
    if (!Node.isPropertyAssignment(property)) continue;
    const name = propertyName(property);
    if (matters(name)) seen.set(name, [...(seen.get(name) ?? []), property]);
  }
  for (const [name, properties] of seen) {
    if (properties.length < 2) continue;
    const lines = properties.map((property) => locate(document, property).line);
    const times = properties.length === 2 ? "twice" : `${properties.length} times`;
    const listed = `${lines.slice(0, -1).join(", ")} and ${lines.at(-1)}`;
    throw new PartyShardError(`"${name}" appears ${times}${where} (lines ${listed}).`, {
      location: { file, ...locate(document, properties[1]!) },
      hint: `Keep one of them: ${tool} silently uses the last, and party-shard will not guess which one you meant.`,
    });
  }
}


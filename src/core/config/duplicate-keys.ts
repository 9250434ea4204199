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
    refuseIn(file, document, holder, (name) => name === "partykit", "");
  }
  refuseIn(file, document, document.config, () => true, "");
  const parties = findProperty(document.config, "parties")?.getInitializer();
  if (Node.isObjectLiteralExpression(parties)) refuseIn(file, document, parties, () => true, ` in "parties"`);
}

function refuseIn(file: string, document: ConfigDocument, object: ObjectLiteralExpression, matters: (name: string) => boolean, where: string): void {
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
      hint: "Keep one of them: partykit silently uses the last, and party-shard will not guess which one you meant.",
    });
  }
}


import { Node, SyntaxKind, type SourceFile } from "ts-morph";
import type { Finding } from "../../plan.js";
import { findingAt } from "../findings.js";
import { findParty, handlerFunction, type PartyShape } from "./find-party.js";

// Where each handler receives the room and the connection, in object-style parties.
const ROOM_PARAMETER: Record<string, number> = { onConnect: 1, onMessage: 2, onClose: 1, onError: 2, onRequest: 1, onAlarm: 0 };
const STORAGE_WRITES = new Set(["put", "delete", "deleteAll", "setAlarm", "deleteAlarm", "transaction"]);
const CONNECTION_STATE = new Set(["setState", "state", "serializeAttachment", "deserializeAttachment"]);

/**
 * What changes for this party once it runs as N shards, each with file:line and what to do.
 * Reads only.
 */
export function shardWarnings(file: SourceFile, glueModule: string): Finding[] {
  const found = findParty(file);
  if ("problem" in found) return [];
  const { party } = found;
  return [...roomIdUses(file, party, glueModule), ...onMessageWarnings(file, party)];
}

function roomIdUses(file: SourceFile, party: PartyShape, glueModule: string): Finding[] {
  const roomTexts = new Set<string>();
  if (party.kind === "class" && party.roomProperty) roomTexts.add(`this.${party.roomProperty}`);
  if (party.kind === "object") {
    for (const [handler, index] of Object.entries(ROOM_PARAMETER)) {
      const name = handlerFunction(party, handler)?.getParameters()[index]?.getName();
      if (name) roomTexts.add(name);
    }
  }
  return party.node
    .getDescendantsOfKind(SyntaxKind.PropertyAccessExpression)
    .filter((access) => access.getName() === "id" && roomTexts.has(access.getExpression().getText()))
    .map((access) =>
      findingAt(file, access, "warning", "room-id", `\`${access.getText()}\` is "<room>-<n>" on a shard. Where it names the room (logic, keys, URLs), use baseRoomId(room) from ${glueModule}.`),
    );
}

function onMessageWarnings(file: SourceFile, party: PartyShape): Finding[] {
  const handler = handlerFunction(party, "onMessage");
  const body = handler?.getBody();
  if (!handler || !body) return [];
  const sender = handler.getParameters()[1]?.getName();
  const findings: Finding[] = [];
  for (const call of body.getDescendantsOfKind(SyntaxKind.CallExpression)) {
    const callee = call.getExpression();
    if (Node.isIdentifier(callee) && callee.getText() === "fetch") {
      findings.push(findingAt(file, call, "warning", "side-effect-per-shard", "onMessage calls fetch: it now runs once per shard for every write. Move it behind a check that runs on one shard only (e.g. the sender's), or out of onMessage."));
    }
    if (Node.isPropertyAccessExpression(callee) && STORAGE_WRITES.has(callee.getName()) && /\.storage$/.test(callee.getExpression().getText())) {
      findings.push(findingAt(file, call, "warning", "storage-per-shard", `onMessage writes storage (${callee.getName()}): each shard keeps its own copy. Keep shared state in one place (another party or an external store).`));
    }
  }
  for (const access of body.getDescendantsOfKind(SyntaxKind.PropertyAccessExpression)) {
    const name = access.getName();
    if (name === "parties" || name === "ai") {
      findings.push(findingAt(file, access, "warning", "side-effect-per-shard", `onMessage uses ${access.getText()}: calls to other parties or AI now run once per shard for every write.`));
    }
    if (sender && access.getExpression().getText() === sender && (CONNECTION_STATE.has(name) || isAssignedTo(access))) {
      findings.push(findingAt(file, access, "warning", "connection-state", `\`${access.getText()}\` is per-connection state: it exists only on the sender's shard, where ${sender} is the real connection; elsewhere ${sender} is a stand-in with the same id.`));
    }
  }
  return findings;
}

function isAssignedTo(access: Node): boolean {
  const parent = access.getParent();
  return Node.isBinaryExpression(parent) && parent.getLeft() === access && parent.getOperatorToken().getKind() === SyntaxKind.EqualsToken;
}

import { Node, Project } from "ts-morph";
import { findParty, partyDefinition } from "./find-party.js";

/** What makes a party worth sharding: it holds WebSocket clients. Static hooks alone do not. */
const SOCKET_HANDLERS = ["onConnect", "onMessage", "onClose"];

export type SocketHandlers =
  | { kind: "found"; handlers: string[] }
  | { kind: "none" }
  /** Not a party migrate can read (no default export, a re-export, a subclass): it may have them. */
  | { kind: "unknown"; reason: string };

/**
 * The WebSocket handlers of the party a file exports by default, read from its syntax: instance
 * methods (or function-valued fields) of a class, or members of an object of handlers.
 */
export function socketHandlers(fileName: string, text: string): SocketHandlers {
  // noLib: the binder is enough to follow `export default name` to its declaration.
  const project = new Project({ useInMemoryFileSystem: true, compilerOptions: { allowJs: true, noLib: true } });
  const file = project.createSourceFile(`/project/${fileName}`, text);
  const found = findParty(file);
  if ("problem" in found) return { kind: "unknown", reason: found.problem };
  const definition = partyDefinition(found.party);
  let names: string[];
  if (Node.isClassDeclaration(definition) || Node.isClassExpression(definition)) {
    if (definition.getExtends()) return { kind: "unknown", reason: `the party extends ${definition.getExtends()!.getText()}` };
    names = definition.getMembers().flatMap((member) => (Node.isMethodDeclaration(member) || Node.isPropertyDeclaration(member)) && !member.isStatic() ? [member.getName()] : []);
  } else if (Node.isObjectLiteralExpression(definition)) {
    names = definition.getProperties().flatMap((property) => (Node.isMethodDeclaration(property) || Node.isPropertyAssignment(property) || Node.isShorthandPropertyAssignment(property) ? [property.getName()] : []));
    if (definition.getProperties().some((property) => Node.isSpreadAssignment(property))) return { kind: "unknown", reason: "the party's object spreads another" };
  } else {
    return { kind: "unknown", reason: "the default export is not a class or an object of handlers" };
  }
  const handlers = SOCKET_HANDLERS.filter((name) => names.includes(name));
  return handlers.length > 0 ? { kind: "found", handlers } : { kind: "none" };
}

/** Whether migrate already wrapped the party a file exports (`export default sharded(Party)`). */
export function leadsShards(fileName: string, text: string): boolean {
  const project = new Project({ useInMemoryFileSystem: true, compilerOptions: { allowJs: true, noLib: true } });
  const found = findParty(project.createSourceFile(`/project/${fileName}`, text));
  return "party" in found && found.party.kind === "expression" && found.party.wrapped;
}

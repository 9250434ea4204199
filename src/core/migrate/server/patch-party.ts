import { SyntaxKind, type MethodDeclaration, type SourceFile } from "ts-morph";
import { statement, type CodeStyle } from "../../code-style.js";
import type { Finding } from "../../plan.js";
import { findParty, handlerFunction, handlerMethod, hasHandler, type PartyShape } from "./find-party.js";
import { findingAt } from "../findings.js";

export interface PatchPartyOptions {
  /** Module specifier of the generated server glue, as the party file should import it. */
  glueSpecifier: string;
  /** Whether the file is TypeScript, so added parameters get types. */
  typed: boolean;
  style: CodeStyle;
}

const GLUE_CALL = "routedWrite";
const MANUAL_STEP = `first thing in the party's onRequest: \`const routed = await ${GLUE_CALL}(room, req, party); if (routed) return routed;\``;

/**
 * Makes the party answer router deliveries by running its own onMessage: one import, and two
 * lines at the top of onRequest (or a small onRequest where there was none). Edits `file` in place.
 */
export function patchParty(file: SourceFile, options: PatchPartyOptions): Finding[] {
  const found = findParty(file);
  if ("problem" in found) {
    return [findingAt(file, found.node, "manual", "party-not-patchable", `Cannot patch the party: ${found.problem}. Add, ${MANUAL_STEP}`)];
  }
  const { party } = found;
  if (!hasHandler(party, "onMessage")) {
    return [findingAt(file, party.node, "info", "no-on-message", "The party has no onMessage, so routed writes reach its onRequest as plain POSTs; nothing to patch.")];
  }
  const onRequest = handlerMethod(party, "onRequest");
  if (onRequest?.getBody()?.getDescendantsOfKind(SyntaxKind.Identifier).some((id) => id.getText() === GLUE_CALL)) return [];
  if (!onRequest && hasHandler(party, "onRequest")) {
    const node = party.kind === "class" ? party.node.getInstanceMember("onRequest") : party.node.getProperty("onRequest");
    return [findingAt(file, node, "manual", "on-request-not-a-method", `onRequest is not written as a method, so migrate leaves it alone. Add, ${MANUAL_STEP}`)];
  }
  const room = roomExpression(party, onRequest);
  if (room === undefined) {
    return [findingAt(file, party.node, "manual", "room-not-found", `Cannot tell where the party keeps its room (no \`constructor(readonly room)\` or \`this.room = room\`). Add, ${MANUAL_STEP}`)];
  }

  // Types only where the party writes them: an object under `satisfies` gets them from context.
  const types = options.typed && writesParameterTypes(party) ? partyTypes(file) : undefined;
  if (onRequest) {
    // An object party's onRequest gets the room as its second parameter; older ones may not declare it.
    const needsRoom = party.kind === "object" && onRequest.getParameters().length < 2;
    extendOnRequest(onRequest, room, needsRoom, types, options.style);
  } else {
    addOnRequest(party, room, types, options.style);
  }
  if (!file.getImportDeclaration((declaration) => declaration.getModuleSpecifierValue() === options.glueSpecifier)) {
    const added = file.addImportDeclaration({ namedImports: [GLUE_CALL], moduleSpecifier: options.glueSpecifier });
    if (!options.style.semicolons) added.replaceWithText(added.getText().replace(/;$/, ""));
  }
  // Text edits above forget ts-morph's nodes; look the party up again to point at the new onRequest.
  const patched = findParty(file);
  const at = "party" in patched ? handlerMethod(patched.party, "onRequest") : undefined;
  return [findingAt(file, at, "info", "party-patched", "Routed writes now run this party's onMessage on every shard.")];
}

/** The room as onRequest sees it: `this.room` in a class, the second parameter in an object. */
function roomExpression(party: PartyShape, onRequest: MethodDeclaration | undefined): string | undefined {
  if (party.kind === "class") return party.roomProperty && `this.${party.roomProperty}`;
  return onRequest?.getParameters()[1]?.getName() ?? "room";
}

// PartyKit calls handlers as methods of the party, so `this` is the party in classes and objects alike.
function extendOnRequest(method: MethodDeclaration, room: string, needsRoom: boolean, types: PartyTypes | undefined, style: CodeStyle) {
  if (method.getParameters().length === 0) method.addParameter({ name: "req", type: types?.request });
  if (needsRoom) method.addParameter({ name: room, type: types?.room });
  const req = method.getParameters()[0]!.getName();
  if (!method.isAsync()) {
    method.setIsAsync(true);
    const returnType = method.getReturnTypeNode()?.getText();
    if (returnType && !returnType.startsWith("Promise<")) method.setReturnType(`Promise<${returnType}>`);
  }
  const name = freeName(method, "routed");
  method.insertStatements(0, [
    statement(style, `const ${name} = await ${GLUE_CALL}(${room}, ${req}, this)`),
    statement(style, `if (${name}) return ${name}`),
  ]);
}

function addOnRequest(party: PartyShape, room: string, types: PartyTypes | undefined, style: CodeStyle) {
  const parameters = party.kind === "class" ? [typed("req", types?.request)] : [typed("req", types?.request), typed("room", types?.room)];
  const notFound = `new Response(${style.quote}Not found${style.quote}, { status: 404 })`;
  const body = statement(style, `return (await ${GLUE_CALL}(${room}, req, this)) ?? ${notFound}`);
  const method = { name: "onRequest", isAsync: true, parameters, statements: [body] };
  // Right after onMessage, which it serves.
  if (party.kind === "class") {
    party.node.insertMethod(party.node.getInstanceMemberOrThrow("onMessage").getChildIndex() + 1, method);
  } else {
    const properties = party.node.getProperties();
    const hadTrailingComma = party.node.getFirstChildByKind(SyntaxKind.SyntaxList)?.getLastChild()?.getKind() === SyntaxKind.CommaToken;
    const added = party.node.insertMethod(properties.indexOf(party.node.getPropertyOrThrow("onMessage")) + 1, method);
    const isLast = party.node.getProperties().at(-1) === added;
    if (hadTrailingComma && isLast) added.getSourceFile().insertText(added.getEnd(), ",");
  }
}

function writesParameterTypes(party: PartyShape): boolean {
  return handlerFunction(party, "onMessage")?.getParameters().some((parameter) => parameter.getTypeNode() !== undefined) ?? false;
}

function typed(name: string, type: string | undefined) {
  return { name, type };
}

interface PartyTypes {
  request: string;
  room: string;
}

/** `Party.Request` / `Party.Room`, through the file's own namespace import of partykit/server (added if missing). */
function partyTypes(file: SourceFile): PartyTypes {
  const existing = file
    .getImportDeclarations()
    .find((declaration) => declaration.getModuleSpecifierValue() === "partykit/server" && declaration.getNamespaceImport());
  let namespace = existing?.getNamespaceImport()?.getText();
  if (!namespace) {
    namespace = "Party";
    file.insertImportDeclaration(0, { isTypeOnly: true, namespaceImport: namespace, moduleSpecifier: "partykit/server" });
  }
  return { request: `${namespace}.Request`, room: `${namespace}.Room` };
}

/** `base`, or `base2`, … whichever no identifier in the method already uses. */
function freeName(method: MethodDeclaration, base: string): string {
  const used = new Set(method.getDescendantsOfKind(SyntaxKind.Identifier).map((id) => id.getText()));
  let name = base;
  for (let i = 2; used.has(name); i++) name = `${base}${i}`;
  return name;
}

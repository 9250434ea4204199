import { Node, type ClassDeclaration, type ExportAssignment, type SourceFile } from "ts-morph";

/** What the glue exports: `sharded(party)` makes the party's room lead its shards. */
export const WRAPPER = "sharded";

/**
 * How a file exports its party by default: a class declared as the default export
 * (`export default class Chat {…}`), or an expression naming a class or an object of handlers
 * (`export default Chat;`, `export default {…} satisfies Party.PartyKitServer;`), maybe wrapped already.
 */
export type PartyExport =
  | { kind: "class"; node: ClassDeclaration }
  | { kind: "expression"; node: ExportAssignment; wrapped: boolean };

export type FindPartyResult = { party: PartyExport } | { problem: string; node?: Node };

/** Finds the party a file exports by default, following `export default name` to its declaration. */
export function findParty(file: SourceFile): FindPartyResult {
  const exportAs = file.getExportDeclarations().find((declaration) =>
    declaration.getNamedExports().some((specifier) => (specifier.getAliasNode() ?? specifier.getNameNode()).getText() === "default"),
  );
  if (exportAs) {
    const from = exportAs.getModuleSpecifierValue();
    return { problem: from ? `the party is re-exported from "${from}"` : "the party is exported by `export { … as default }`", node: exportAs };
  }
  const declaration = file.getDefaultExportSymbol()?.getDeclarations()[0];
  if (!declaration) return { problem: "the file has no default export, so it is not a PartyKit party" };
  if (Node.isClassDeclaration(declaration)) return { party: { kind: "class", node: declaration } };
  if (Node.isExportAssignment(declaration) && !declaration.isExportEquals()) {
    const inner = wrappedParty(declaration.getExpression());
    const target = resolve(inner ?? declaration.getExpression());
    if (Node.isClassDeclaration(target) || Node.isClassExpression(target) || Node.isObjectLiteralExpression(target)) {
      return { party: { kind: "expression", node: declaration, wrapped: inner !== undefined } };
    }
  }
  return { problem: "the default export is not a class or an object of handlers", node: declaration };
}

/** The class or object of handlers a found party is: the declaration, or what its export names. */
export function partyDefinition(party: PartyExport): Node {
  if (party.kind === "class") return party.node;
  const expression = party.node.getExpression();
  return resolve(wrappedParty(expression) ?? expression);
}

/** The `x` of `sharded(x)`, or undefined when the expression is not wrapped. */
function wrappedParty(expression: Node): Node | undefined {
  if (!Node.isCallExpression(expression) || expression.getExpression().getText() !== WRAPPER) return undefined;
  return expression.getArguments()[0];
}

/** Unwraps `x satisfies T`, `x as T`, `(x)` and follows an identifier to what it names. */
function resolve(expression: Node): Node {
  let node = expression;
  while (Node.isSatisfiesExpression(node) || Node.isAsExpression(node) || Node.isParenthesizedExpression(node)) {
    node = node.getExpression();
  }
  if (Node.isIdentifier(node)) {
    const declaration = node.getSymbol()?.getDeclarations()[0];
    if (Node.isVariableDeclaration(declaration)) {
      const initializer = declaration.getInitializer();
      return initializer ? resolve(initializer) : declaration;
    }
    if (declaration) return declaration;
  }
  return node;
}

import {
  Node,
  SyntaxKind,
  type ClassDeclaration,
  type ClassExpression,
  type MethodDeclaration,
  type ObjectLiteralExpression,
  type SourceFile,
} from "ts-morph";

/** A party as migrate sees it: a class, or an object of handlers (`export default { onMessage… }`). */
export type PartyShape =
  | { kind: "class"; node: ClassDeclaration | ClassExpression; roomProperty: string | undefined }
  | { kind: "object"; node: ObjectLiteralExpression; name: string | undefined };

export type FindPartyResult = { party: PartyShape } | { problem: string; node?: Node };

/** Finds the party a file exports by default, following `export default name` to its declaration. */
export function findParty(file: SourceFile): FindPartyResult {
  const reExport = file.getExportDeclarations().find((declaration) =>
    declaration.getNamedExports().some((specifier) => (specifier.getAliasNode() ?? specifier.getNameNode()).getText() === "default"),
  );
  if (reExport) {
    const from = reExport.getModuleSpecifierValue();
    return { problem: `the party is re-exported${from ? ` from "${from}"` : ""}; migrate that file instead`, node: reExport };
  }
  const declaration = file.getDefaultExportSymbol()?.getDeclarations()[0];
  if (!declaration) return { problem: "the file has no default export, so it is not a PartyKit party" };
  const target = Node.isExportAssignment(declaration) ? resolve(declaration.getExpression()) : declaration;
  if (Node.isClassDeclaration(target) || Node.isClassExpression(target)) {
    return { party: { kind: "class", node: target, roomProperty: roomProperty(target) } };
  }
  if (Node.isObjectLiteralExpression(target)) {
    const variable = target.getParentIfKind(SyntaxKind.VariableDeclaration);
    return { party: { kind: "object", node: target, name: variable?.getName() } };
  }
  return { problem: "the default export is not a class or an object literal that migrate can patch", node: declaration };
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

/** The `this.<name>` the constructor keeps the room in: a parameter property or an assignment. */
function roomProperty(node: ClassDeclaration | ClassExpression): string | undefined {
  const constructor = node.getConstructors()[0];
  const parameter = constructor?.getParameters()[0];
  if (!constructor || !parameter) return undefined;
  if (parameter.isParameterProperty()) return parameter.getName();
  for (const assignment of constructor.getDescendantsOfKind(SyntaxKind.BinaryExpression)) {
    const left = assignment.getLeft();
    if (
      assignment.getOperatorToken().getKind() === SyntaxKind.EqualsToken &&
      Node.isPropertyAccessExpression(left) &&
      left.getExpression().getKind() === SyntaxKind.ThisKeyword &&
      assignment.getRight().getText() === parameter.getName()
    ) {
      return left.getName();
    }
  }
  return undefined;
}

/** A handler written as a method (`onMessage() {}`), the only form `this` reliably works in. */
export function handlerMethod(party: PartyShape, name: string): MethodDeclaration | undefined {
  if (party.kind === "class") return party.node.getInstanceMethod(name);
  const property = party.node.getProperty(name);
  return Node.isMethodDeclaration(property) ? property : undefined;
}

/** Any handler of that name, whatever its form (method, arrow or function property). */
export function hasHandler(party: PartyShape, name: string): boolean {
  if (party.kind === "class") return party.node.getInstanceMember(name) !== undefined;
  return party.node.getProperty(name) !== undefined;
}

/** A handler's function, whether written as a method, an arrow or a function expression. */
export function handlerFunction(party: PartyShape, name: string) {
  const member = party.kind === "class" ? party.node.getInstanceMember(name) : party.node.getProperty(name);
  if (Node.isMethodDeclaration(member)) return member;
  const initializer = Node.isPropertyAssignment(member) || Node.isPropertyDeclaration(member) ? member.getInitializer() : undefined;
  return Node.isArrowFunction(initializer) || Node.isFunctionExpression(initializer) ? initializer : undefined;
}

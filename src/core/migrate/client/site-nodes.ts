import { Node, ts, type CallExpression, type ElementAccessExpression, type NewExpression, type PropertyAccessExpression, type SourceFile, type VariableDeclaration } from "ts-morph";
import { findNodes } from "./find-nodes.js";

/** The nodes of one client file that migrate examines, in source order within each kind. */
export interface SiteNodes {
  /** `new X(...)`: a PartySocket or a subclass, maybe. */
  news: NewExpression[];
  /** Calls of `super` or of an imported name: a subclass's socket, or usePartySocket under any name. */
  constructorCalls: CallExpression[];
  /** `x.send`. */
  sendAccesses: PropertyAccessExpression[];
  /** `x[key]` where the key may be "send". */
  dynamicAccesses: ElementAccessExpression[];
  /** `let x: any`, whose sends cannot be told. */
  anyDeclarations: VariableDeclaration[];
}

/**
 * One walk of the compiler's tree per file, keeping only the nodes that can be socket sites;
 * only those are wrapped as ts-morph nodes. (Wrapping every node of a kind, as
 * getDescendantsOfKind does, cost more than the analysis on large projects.) A call is kept
 * when it is `super(...)`, or calls a name this file imports that `mayBeHook` accepts:
 * usePartySocket reaches a file only through an import, under any name.
 */
export function siteNodes(file: SourceFile, mayBeHook: (callee: ts.Identifier) => boolean): SiteNodes {
  const imported = importedNames(file.compilerNode);
  const isConstructorCall = (call: ts.CallExpression) => {
    const callee = call.expression;
    return callee.kind === ts.SyntaxKind.SuperKeyword || (ts.isIdentifier(callee) && imported.has(callee.text) && mayBeHook(callee));
  };
  const kept = findNodes(
    file,
    (node) =>
      ts.isNewExpression(node) ||
      (ts.isCallExpression(node) && isConstructorCall(node)) ||
      (ts.isPropertyAccessExpression(node) && node.name.text === "send") ||
      (ts.isElementAccessExpression(node) && mayNameSend(node.argumentExpression)) ||
      (ts.isVariableDeclaration(node) && node.type?.kind === ts.SyntaxKind.AnyKeyword),
  );
  // Each test above keeps one kind of node, so filtering by kind recovers what each test kept.
  return {
    news: kept.filter(Node.isNewExpression),
    constructorCalls: kept.filter(Node.isCallExpression),
    sendAccesses: kept.filter(Node.isPropertyAccessExpression),
    dynamicAccesses: kept.filter(Node.isElementAccessExpression),
    anyDeclarations: kept.filter(Node.isVariableDeclaration),
  };
}

/** `x["send"]` or `x[name]`: not `x[0]` nor `x["other"]`. */
function mayNameSend(key: ts.Expression): boolean {
  return ts.isStringLiteral(key) ? key.text === "send" : !ts.isNumericLiteral(key);
}

/** The local names that the file's imports bind (`import a, { b as c } from`, `import d = require()`). */
function importedNames(file: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  for (const statement of file.statements) {
    if (ts.isImportEqualsDeclaration(statement)) names.add(statement.name.text);
    if (!ts.isImportDeclaration(statement) || !statement.importClause) continue;
    const { name, namedBindings } = statement.importClause;
    if (name) names.add(name.text);
    if (namedBindings && ts.isNamedImports(namedBindings)) for (const element of namedBindings.elements) names.add(element.name.text);
  }
  return names;
}

import { Node, Project, type ObjectLiteralExpression, type PropertyAssignment } from "ts-morph";
import { lineColAt } from "../../errors.js";

/**
 * A PartyKit config read as a JavaScript expression, so that JSON, JSONC and JSON5 all parse
 * with their comments and layout intact. Offsets reported here are offsets into the original text.
 */
export interface ConfigDocument {
  text: string;
  /** The object holding `main` and `parties`: the whole file, or `package.json#partykit`. */
  config: ObjectLiteralExpression;
}

// Wrapping in parentheses makes `{ ... }` an expression rather than a block.
const PREFIX = "(";

let project: Project | undefined;
let parsed = 0;

export function parseConfigDocument(text: string, inPackageJson: boolean): ConfigDocument | undefined {
  project ??= new Project({ useInMemoryFileSystem: true });
  // A name of its own: overwriting one file would forget the nodes of documents still in use.
  const file = project.createSourceFile(`config-${parsed++}.ts`, `${PREFIX}${text}\n)`);
  const statement = file.getStatements()[0];
  const expression = Node.isExpressionStatement(statement) ? statement.getExpression() : undefined;
  const root = Node.isParenthesizedExpression(expression) ? expression.getExpression() : undefined;
  if (!Node.isObjectLiteralExpression(root)) return undefined;
  if (!inPackageJson) return { text, config: root };
  const partykit = findProperty(root, "partykit")?.getInitializer();
  return Node.isObjectLiteralExpression(partykit) ? { text, config: partykit } : undefined;
}

export function findProperty(object: ObjectLiteralExpression, name: string): PropertyAssignment | undefined {
  for (const property of object.getProperties()) {
    if (Node.isPropertyAssignment(property) && propertyName(property) === name) return property;
  }
  return undefined;
}

export function propertyName(property: PropertyAssignment): string {
  const name = property.getNameNode();
  return Node.isStringLiteral(name) ? name.getLiteralValue() : name.getText();
}

/** Offset into the original text of a node's first character. */
export function textOffset(node: Node): number {
  return node.getStart() - PREFIX.length;
}

export function nodeEnd(node: Node): number {
  return node.getEnd() - PREFIX.length;
}

export function locate(document: ConfigDocument, node: Node): { line: number; col: number } {
  return lineColAt(document.text, textOffset(node));
}

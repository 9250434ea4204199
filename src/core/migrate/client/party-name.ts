import { Node, type ObjectLiteralExpression, type ParameterDeclaration, type ts } from "ts-morph";
import { resolveAlias, unwrap, type Construction } from "./socket-origins.js";

/** A party told from the code: one name, or a runtime value with every name it can be when each can be told. */
export type PartyOf = { kind: "literal"; name: string } | { kind: "dynamic"; reason: string; candidates?: string[] };

/** The parties a socket must go through the router for: the sharded one, and the router itself. */
export interface RoutedParties {
  shardedParty: string;
  routerParty: string;
}

/**
 * Where a socket's party leads: to the sharded party or the router (`routed`), to another party
 * (`other`, also when every name a runtime value can be is told and none is either of those), or
 * where nobody can tell: a runtime value that may be one of them is the user's to settle.
 */
export function partyReach(party: PartyOf, { shardedParty, routerParty }: RoutedParties): "routed" | "other" | "unknown" {
  const isRouted = (name: string) => name === shardedParty || name === routerParty;
  if (party.kind === "literal") return isRouted(party.name) ? "routed" : "other";
  return party.candidates && !party.candidates.some(isRouted) ? "other" : "unknown";
}

const MAX_DEPTH = 8;

/**
 * The party a socket connects to, read from its options. A name that is not written in place is
 * followed before giving up: a const, an enum member, a default parameter and the arguments its
 * callers pass, a component prop and what every `<Component prop=…>` passes.
 */
export function readParty(construction: Construction): PartyOf {
  const { options } = construction;
  if (!options) return { kind: "dynamic", reason: "set by options migrate cannot read (not an object literal)" };
  const property = options.getProperty("party");
  if (!property) {
    const spread = options.getProperties().some((p) => Node.isSpreadAssignment(p));
    return spread ? { kind: "dynamic", reason: "possibly set by a spread" } : { kind: "literal", name: "main" };
  }
  const names = Node.isPropertyAssignment(property)
    ? partyNames(property.getInitializerOrThrow(), 0)
    : Node.isShorthandPropertyAssignment(property)
      ? declarationNames(resolveAlias(property.getValueSymbol())?.getDeclarations() ?? [], 0)
      : undefined;
  if (names?.length === 1) return { kind: "literal", name: names[0]! };
  if (names && names.length > 1) return { kind: "dynamic", reason: `one of ${names.map((name) => `"${name}"`).join(", ")}, depending on where it is called from`, candidates: names };
  return { kind: "dynamic", reason: `the runtime value \`${property.getText()}\`` };
}

/** Every string `expression` can be, or undefined when one of them cannot be told. */
export function partyNames(expression: Node, depth: number): string[] | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const node = unwrap(expression);
  if (Node.isStringLiteral(node) || Node.isNoSubstitutionTemplateLiteral(node)) return [node.getLiteralValue()];
  if (Node.isConditionalExpression(node)) return union([partyNames(node.getWhenTrue(), depth + 1), partyNames(node.getWhenFalse(), depth + 1)]);
  if (Node.isPropertyAccessExpression(node)) {
    // `props.party` inside a component: what its callers pass as `party`.
    const parameter = resolveAlias(node.getExpression().getSymbol())?.getDeclarations()[0];
    if (Node.isParameterDeclaration(parameter) && Node.isIdentifier(parameter.getNameNode())) return propValues(parameter, node.getName(), undefined, depth);
  }
  if (!Node.isIdentifier(node) && !Node.isPropertyAccessExpression(node)) return undefined;
  return declarationNames(resolveAlias(node.getSymbol())?.getDeclarations() ?? [], depth);
}

/** The strings a name declared by `declarations` can hold. */
function declarationNames(declarations: Node[], depth: number): string[] | undefined {
  if (declarations.length !== 1) return undefined;
  const declaration = declarations[0]!;
  if (Node.isVariableDeclaration(declaration)) {
    const constant = declaration.getVariableStatement()?.getDeclarationKind() === "const";
    const initializer = declaration.getInitializer();
    return constant && initializer ? partyNames(initializer, depth + 1) : undefined;
  }
  if (Node.isPropertyAssignment(declaration) || Node.isEnumMember(declaration)) {
    const initializer = declaration.getInitializer();
    return initializer ? partyNames(initializer, depth + 1) : undefined;
  }
  if (Node.isParameterDeclaration(declaration)) return parameterValues(declaration, depth);
  if (Node.isBindingElement(declaration)) {
    const pattern = declaration.getParent();
    const parameter = pattern.getParent();
    if (!Node.isObjectBindingPattern(pattern) || !Node.isParameterDeclaration(parameter) || declaration.getDotDotDotToken()) return undefined;
    const prop = declaration.getPropertyNameNode()?.getText() ?? declaration.getName();
    return propValues(parameter, prop, declaration.getInitializer(), depth);
  }
  return undefined;
}

/** A parameter's default and each argument its callers pass in its place. */
function parameterValues(parameter: ParameterDeclaration, depth: number): string[] | undefined {
  const fallback = parameter.getInitializer();
  const index = (parameter.getParentOrThrow().compilerNode as ts.SignatureDeclaration).parameters.indexOf(parameter.compilerNode);
  const calls = callSites(parameter);
  // No caller in sight (an exported function) tells nothing of what its callers pass.
  if (!calls || calls.length === 0) return fallback ? partyNames(fallback, depth + 1) : undefined;
  const values = calls.map((call) => {
    const argument = Node.isCallExpression(call) ? call.getArguments()[index] : undefined;
    if (argument) return partyNames(argument, depth + 1);
    return fallback ? partyNames(fallback, depth + 1) : undefined;
  });
  return union(values);
}

/** What the callers of the component (or function) whose props `parameter` is pass as `prop`; `fallback` when one passes none. */
function propValues(parameter: Node, prop: string, fallback: Node | undefined, depth: number): string[] | undefined {
  const calls = callSites(parameter);
  if (!calls || calls.length === 0) return fallback ? partyNames(fallback, depth + 1) : undefined;
  return union(
    calls.map((call) => {
      const passed = passedProp(call, prop);
      if (passed === "unknown") return undefined;
      if (passed) return partyNames(passed, depth + 1);
      return fallback ? partyNames(fallback, depth + 1) : undefined;
    }),
  );
}

/** `<C prop="x">`, `<C prop={x}>`, `c({ prop: x })`: the value passed, none, or "unknown" (a spread). */
function passedProp(call: Node, prop: string): Node | "unknown" | undefined {
  if (Node.isJsxOpeningElement(call) || Node.isJsxSelfClosingElement(call)) {
    let found: Node | "unknown" | undefined;
    for (const attribute of call.getAttributes()) {
      if (Node.isJsxSpreadAttribute(attribute)) found = "unknown";
      else if (attribute.getNameNode().getText() === prop) {
        const initializer = attribute.getInitializer();
        found = Node.isJsxExpression(initializer) ? initializer.getExpression() ?? "unknown" : initializer ?? "unknown";
      }
    }
    return found;
  }
  const argument = Node.isCallExpression(call) ? call.getArguments()[0] : undefined;
  if (!Node.isObjectLiteralExpression(argument)) return "unknown";
  return propertyValue(argument, prop);
}

function propertyValue(object: ObjectLiteralExpression, prop: string): Node | "unknown" | undefined {
  if (object.getProperties().some((p) => Node.isSpreadAssignment(p))) return "unknown";
  const property = object.getProperty(prop);
  if (Node.isPropertyAssignment(property)) return property.getInitializer() ?? "unknown";
  if (Node.isShorthandPropertyAssignment(property)) return property.getNameNode();
  return property ? "unknown" : undefined;
}

/**
 * Where the function declaring `parameter` is called (`f(…)`) or rendered (`<F …>`), or
 * undefined when it is used some other way (passed along, a method) and its callers cannot be listed.
 */
function callSites(parameter: Node): Node[] | undefined {
  const fn = parameter.getParent();
  const name = Node.isFunctionDeclaration(fn) ? fn.getNameNode() : Node.isArrowFunction(fn) || Node.isFunctionExpression(fn) ? variableName(fn) : undefined;
  if (!name || !fn) return undefined;
  const sites: Node[] = [];
  for (const reference of name.findReferencesAsNodes()) {
    if (reference === name) continue;
    const parent = reference.getParent();
    if (Node.isCallExpression(parent) && parent.getExpression() === reference) sites.push(parent);
    else if ((Node.isJsxOpeningElement(parent) || Node.isJsxSelfClosingElement(parent)) && parent.getTagNameNode() === reference) sites.push(parent);
    else if (Node.isJsxClosingElement(parent) || Node.isImportSpecifier(parent) || Node.isExportSpecifier(parent) || Node.isImportClause(parent) || Node.isExportAssignment(parent)) continue;
    else return undefined;
  }
  return sites;
}

function variableName(fn: Node) {
  let node = fn.getParent();
  // `const Room = memo(function Room(…) {…})`, `const f = (…) => …`.
  while (Node.isCallExpression(node) || Node.isParenthesizedExpression(node)) node = node.getParent();
  const name = Node.isVariableDeclaration(node) ? node.getNameNode() : undefined;
  return Node.isIdentifier(name) ? name : undefined;
}

/** Every name of every list; undefined when one cannot be told, or when there is none to tell. */
function union(lists: (string[] | undefined)[]): string[] | undefined {
  if (lists.length === 0 || lists.some((list) => list === undefined)) return undefined;
  return [...new Set(lists.flat() as string[])].sort();
}

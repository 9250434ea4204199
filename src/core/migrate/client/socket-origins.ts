import {
  Node,
  SyntaxKind,
  ts,
  type CallExpression,
  type ClassDeclaration,
  type ClassExpression,
  type NewExpression,
  type ObjectLiteralExpression,
  type PropertyDeclaration,
  type Symbol as MorphSymbol,
  type TypeNode,
  type VariableDeclaration,
} from "ts-morph";
import { findNodes } from "./find-nodes.js";

/** Where a socket was made: the `new PartySocket(...)`/`usePartySocket(...)` call and its options. */
export interface Construction {
  call: NewExpression | CallExpression;
  /** The options object literal, when there is one to read and edit. */
  options: ObjectLiteralExpression | undefined;
}

/**
 * What is known of a value: made by a construction we can see, or a PartySocket whose maker
 * we cannot see (a parameter, a context value, a cast), a raw WebSocket made by `call`, or not
 * a socket at all.
 */
export type Origin = { kind: "construction"; construction: Construction } | { kind: "typed" } | { kind: "raw"; call: NewExpression };

const SOCKET_MODULE = /^partysocket(\/index(\.js)?)?$/;
const REACT_MODULE = /^partysocket\/react$/;
const MAX_DEPTH = 8;

/**
 * Finds PartySocket origins by following symbols, imports and declarations: works the same
 * whether or not partysocket's types resolve. The type checker is asked only as a last resort.
 */
export class SocketOrigins {
  /** `isRaw` tells a raw WebSocket's construction (the browser's, `ws`'s), whose sends are followed too. */
  constructor(
    private readonly useTypes: boolean,
    private readonly isRaw: (call: NewExpression) => boolean = () => false,
  ) {}

  of(expression: Node, depth = 0): Origin | undefined {
    if (depth > MAX_DEPTH) return undefined;
    const node = unwrap(expression);
    const cast = castType(expression);
    if (cast && this.isSocketType(cast)) return this.of(node, depth + 1) ?? { kind: "typed" };
    if (Node.isThisExpression(node)) return this.ofThis(node);
    if (Node.isNewExpression(node) || Node.isCallExpression(node)) {
      const made = this.construction(node, depth);
      if (made) return made;
    }
    if (Node.isIdentifier(node) || Node.isPropertyAccessExpression(node)) {
      const declarations = resolveAlias(node.getSymbol())?.getDeclarations() ?? [];
      for (const declaration of declarations) {
        const origin = this.ofDeclaration(declaration, depth);
        if (origin) return origin;
      }
      // A value made right here as something else (`const mailer = { send() {} }`) needs no type check.
      if (declarations.some(isPlainlyNotASocket)) return undefined;
    }
    // Only names can hold a socket made elsewhere; literals and other expressions are never asked about.
    const named = Node.isIdentifier(node) || Node.isPropertyAccessExpression(node) || Node.isCallExpression(node) || Node.isElementAccessExpression(node);
    return named ? this.fromType(node) : undefined;
  }

  /** `new PartySocket(...)`, `new Subclass(...)`, `usePartySocket(...)`, `useContext(SocketContext)`, `makeSocket()`. */
  private construction(node: NewExpression | CallExpression, depth: number): Origin | undefined {
    const chain = declarationChain(node.getExpression().getSymbol());
    const callee = chain.at(-1);
    if (Node.isNewExpression(node)) {
      if (chain.some(isSocketImport)) return { kind: "construction", construction: { call: node, options: objectArgument(node, 0) } };
      if (Node.isClassDeclaration(callee) && this.extendsSocket(callee)) return this.ofSubclass(callee, node);
      return this.isRaw(node) ? { kind: "raw", call: node } : undefined;
    }
    if (chain.some(isHook)) {
      return { kind: "construction", construction: { call: node, options: objectArgument(node, 0) } };
    }
    if (chain.some((declaration) => isImportFrom(declaration, /^react$/, "useContext") || isLibraryFunction(declaration, "@types/react", "useContext"))) {
      const context = node.getArguments()[0];
      const created = context && resolveAlias(context.getSymbol())?.getDeclarations()[0];
      const initializer = Node.isVariableDeclaration(created) ? created.getInitializer() : undefined;
      const typeArgument = Node.isCallExpression(initializer) ? initializer.getTypeArguments()[0] : undefined;
      return typeArgument && this.isSocketType(typeArgument) ? { kind: "typed" } : undefined;
    }
    const body = Node.isFunctionDeclaration(callee) || Node.isArrowFunction(callee) || Node.isFunctionExpression(callee) ? callee : initializerFunction(callee);
    if (!body) return undefined;
    const returnType = body.getReturnTypeNode();
    if (returnType && this.isSocketType(returnType)) return { kind: "typed" };
    const returned = Node.isArrowFunction(body) && !Node.isBlock(body.getBody()) ? [body.getBody()] : body.getDescendantsOfKind(SyntaxKind.ReturnStatement).map((r) => r.getExpression());
    for (const expression of returned) {
      const origin = expression && this.of(expression, depth + 1);
      if (origin) return origin;
    }
    return undefined;
  }

  private ofDeclaration(declaration: Node, depth: number): Origin | undefined {
    if (Node.isVariableDeclaration(declaration) || Node.isPropertyDeclaration(declaration) || Node.isParameterDeclaration(declaration) || Node.isPropertyAssignment(declaration) || Node.isPropertySignature(declaration)) {
      const initializer = "getInitializer" in declaration ? declaration.getInitializer() : undefined;
      const fromInitializer = initializer && this.of(initializer, depth + 1);
      if (fromInitializer) return fromInitializer;
      const fromAssignment = this.ofAssignments(declaration, depth);
      if (fromAssignment) return fromAssignment;
      const typeNode = Node.isPropertyAssignment(declaration) ? undefined : declaration.getTypeNode();
      if (typeNode && this.isSocketType(typeNode)) return { kind: "typed" };
    }
    if (Node.isShorthandPropertyAssignment(declaration)) return this.of(declaration.getNameNode(), depth + 1);
    return undefined;
  }

  /** `let socket: PartySocket | null = null; … socket = new PartySocket(…)`. */
  private ofAssignments(declaration: Node, depth: number): Origin | undefined {
    if (!Node.isVariableDeclaration(declaration) && !Node.isPropertyDeclaration(declaration)) return undefined;
    // A const is never assigned again; finding references is the costliest query there is.
    if (Node.isVariableDeclaration(declaration) && declaration.getVariableStatement()?.getDeclarationKind() === "const") return undefined;
    for (const reference of assignableReferences(declaration)) {
      const target = Node.isPropertyAccessExpression(reference.getParent()) ? reference.getParent()! : reference;
      const assignment = target.getParent();
      if (Node.isBinaryExpression(assignment) && assignment.getLeft() === target && assignment.getOperatorToken().getKind() === SyntaxKind.EqualsToken) {
        const origin = this.of(assignment.getRight(), depth + 1);
        if (origin) return origin;
      }
    }
    return undefined;
  }

  private ofThis(node: Node): Origin | undefined {
    const owner = node.getFirstAncestor((ancestor) => Node.isClassDeclaration(ancestor) || Node.isClassExpression(ancestor));
    if (!owner || !(Node.isClassDeclaration(owner) || Node.isClassExpression(owner)) || !this.extendsSocket(owner)) return undefined;
    return this.ofSubclass(owner, undefined);
  }

  /** A subclass makes its socket in `super(options)`; options passed through come from `new Subclass(options)`. */
  private ofSubclass(owner: ClassDeclaration | ClassExpression, created: NewExpression | undefined): Origin {
    const superCall = owner
      .getConstructors()[0]
      ?.getDescendantsOfKind(SyntaxKind.CallExpression)
      .find((call) => call.getExpression().getKind() === SyntaxKind.SuperKeyword);
    if (!superCall) return created ? { kind: "construction", construction: { call: created, options: objectArgument(created, 0) } } : { kind: "typed" };
    const argument = superCall.getArguments()[0];
    if (Node.isObjectLiteralExpression(argument)) return { kind: "construction", construction: { call: superCall, options: argument } };
    const parameterIndex = owner.getConstructors()[0]!.getParameters().findIndex((p) => p.getName() === argument?.getText());
    if (created && parameterIndex >= 0) return { kind: "construction", construction: { call: created, options: objectArgument(created, parameterIndex) } };
    return { kind: "typed" };
  }

  extendsSocket(owner: ClassDeclaration | ClassExpression, depth = 0): boolean {
    const base = owner.getHeritageClauseByKind(SyntaxKind.ExtendsKeyword)?.getTypeNodes()[0]?.getExpression();
    const chain = declarationChain(base?.getSymbol());
    const declaration = chain.at(-1);
    if (!declaration || depth > MAX_DEPTH) return false;
    if (chain.some(isSocketImport)) return true;
    return Node.isClassDeclaration(declaration) && this.extendsSocket(declaration, depth + 1);
  }

  /** A type written as PartySocket (or a subclass), possibly in a union with null/undefined. */
  isSocketType(typeNode: TypeNode): boolean {
    const names = Node.isUnionTypeNode(typeNode) ? typeNode.getTypeNodes() : [typeNode];
    return names.some((node) => {
      if (!Node.isTypeReference(node)) return false;
      const chain = declarationChain(node.getTypeName().getSymbol());
      const declaration = chain.at(-1);
      return chain.some(isSocketImport) || (Node.isClassDeclaration(declaration) && this.extendsSocket(declaration));
    });
  }

  /** Last resort, with types available: the value's type is partysocket's PartySocket or extends it. */
  private fromType(node: Node): Origin | undefined {
    if (!this.useTypes) return undefined;
    const types = node.getType().isUnion() ? node.getType().getUnionTypes() : [node.getType()];
    for (const type of types) {
      for (let current: typeof type | undefined = type; current; current = current.getBaseTypes()[0]) {
        const declaration = current.getSymbol()?.getDeclarations()[0];
        if (current.getSymbol()?.getName() === "PartySocket" && declaration?.getSourceFile().getFilePath().includes("/node_modules/partysocket/")) {
          return { kind: "typed" };
        }
      }
    }
    return undefined;
  }
}

/**
 * Where `declaration` is referenced, to look for assignments. A variable in a module can be
 * assigned only in its own file (an importer's binding is read-only), so only that file is
 * searched; the language service's findReferences reads every file of the program, and is
 * left for class fields and script globals.
 */
function assignableReferences(declaration: VariableDeclaration | PropertyDeclaration): Node[] {
  const file = declaration.getSourceFile();
  if (!Node.isVariableDeclaration(declaration) || !ts.isExternalModule(file.compilerNode)) return declaration.findReferencesAsNodes();
  const name = declaration.getNameNode();
  if (!Node.isIdentifier(name)) return declaration.findReferencesAsNodes();
  const symbol = name.getSymbol()?.compilerSymbol;
  if (!symbol) return declaration.findReferencesAsNodes();
  const text = name.getText();
  const sameName = findNodes(file, (node) => ts.isIdentifier(node) && node.text === text && node !== name.compilerNode);
  return sameName.filter((identifier) => identifier.getSymbol()?.compilerSymbol === symbol);
}

/** partysocket/react exports usePartySocket both by name and as its default. */
function isHook(declaration: Node): boolean {
  return isImportFrom(declaration, REACT_MODULE, "usePartySocket") || isImportFrom(declaration, REACT_MODULE, "default") || isLibraryFunction(declaration, "partysocket", "usePartySocket");
}

/**
 * A quick test on the compiler's nodes, before anything is wrapped: whether the name `callee`
 * calls comes, through its imports and re-exports, from partysocket (or a Yjs provider's package)
 * at all. Only such calls can be usePartySocket or useYProvider; mayConstruct and providerAt then
 * decide exactly.
 */
export function mayComeFromPartysocket(callee: ts.Identifier, checker: ts.TypeChecker): boolean {
  let symbol = checker.getSymbolAtLocation(callee);
  for (let hops = 0; symbol && hops < MAX_DEPTH; hops++) {
    if ((symbol.declarations ?? []).some(isPartysocketDeclaration)) return true;
    symbol = symbol.flags & ts.SymbolFlags.Alias ? checker.getImmediateAliasedSymbol(symbol) : undefined;
  }
  return false;
}

function isPartysocketDeclaration(declaration: ts.Node): boolean {
  if (/\/node_modules\/(?:partysocket|y-partykit|y-partyserver)\//.test(declaration.getSourceFile().fileName)) return true;
  const from = ts.findAncestor(declaration, (node) => ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) as ts.ImportDeclaration | ts.ExportDeclaration | undefined;
  const specifier = from?.moduleSpecifier;
  return specifier !== undefined && ts.isStringLiteral(specifier) && /^(?:partysocket|y-partykit|y-partyserver)(\/|$)/.test(specifier.text);
}

/** Whether `call` can make a socket itself: `usePartySocket(...)` under any name, or a `super(...)`. */
export function mayConstruct(call: CallExpression): boolean {
  const callee = call.getExpression();
  if (callee.getKind() === SyntaxKind.SuperKeyword) return true;
  return Node.isIdentifier(callee) && declarationChain(callee.getSymbol()).some(isHook);
}

/** A const whose initializer is a literal, a function or a class: whatever it is, it is no PartySocket. */
function isPlainlyNotASocket(declaration: Node): boolean {
  if (!Node.isVariableDeclaration(declaration) || declaration.getVariableStatement()?.getDeclarationKind() !== "const") return false;
  const initializer = declaration.getInitializer();
  return (
    Node.isObjectLiteralExpression(initializer) ||
    Node.isArrayLiteralExpression(initializer) ||
    Node.isStringLiteral(initializer) ||
    Node.isNumericLiteral(initializer) ||
    Node.isArrowFunction(initializer) ||
    Node.isFunctionExpression(initializer) ||
    Node.isClassExpression(initializer)
  );
}

/** `x!`, `(x)`, `x as T`, `x satisfies T` → `x`. */
export function unwrap(expression: Node): Node {
  let node = expression;
  while (Node.isNonNullExpression(node) || Node.isParenthesizedExpression(node) || Node.isAsExpression(node) || Node.isSatisfiesExpression(node)) {
    node = node.getExpression();
  }
  return node;
}

function castType(expression: Node): TypeNode | undefined {
  let node = expression;
  while (Node.isNonNullExpression(node) || Node.isParenthesizedExpression(node)) node = node.getExpression();
  return Node.isAsExpression(node) ? node.getTypeNode() : undefined;
}

/**
 * The declarations met following an import or re-export one hop at a time, ending with what
 * it finally names: so `import { PartySocket } from "partysocket"` is seen as that import even
 * when partysocket's own declaration resolves too.
 */
export function declarationChain(symbol: MorphSymbol | undefined): Node[] {
  const chain: Node[] = [];
  for (let current = symbol, hops = 0; current && hops < MAX_DEPTH; hops++) {
    chain.push(...current.getDeclarations());
    current = current.isAlias() ? current.getImmediatelyAliasedSymbol() : undefined;
  }
  return chain;
}

export function resolveAlias(symbol: MorphSymbol | undefined): MorphSymbol | undefined {
  if (!symbol) return undefined;
  return symbol.isAlias() ? symbol.getAliasedSymbol() ?? symbol : symbol;
}

/** The import of PartySocket itself, default or named, aliased or not; also its declaration in partysocket's types. */
function isSocketImport(declaration: Node): boolean {
  if (isImportFrom(declaration, SOCKET_MODULE, "PartySocket") || isImportFrom(declaration, SOCKET_MODULE, "default")) return true;
  return Node.isClassDeclaration(declaration) && declaration.getName() === "PartySocket" && declaration.getSourceFile().getFilePath().includes("/node_modules/partysocket/");
}

/** A function as declared in an installed package's types, e.g. usePartySocket in partysocket. */
function isLibraryFunction(declaration: Node, packageName: string, name: string): boolean {
  return Node.isFunctionDeclaration(declaration) && declaration.getName() === name && declaration.getSourceFile().getFilePath().includes(`/node_modules/${packageName}/`);
}

/**
 * Whether `declaration` imports `exported` from a module matching `module`, or re-exports it
 * (`export { usePartySocket as useRoom } from "partysocket/react"`): either way the chain of
 * declarations is seen to start at that module, installed or not.
 */
export function isImportFrom(declaration: Node, module: RegExp, exported: string): boolean {
  const from = declaration.getFirstAncestor((node) => Node.isImportDeclaration(node) || Node.isExportDeclaration(node));
  const specifier = Node.isImportDeclaration(from) || Node.isExportDeclaration(from) ? from.getModuleSpecifierValue() : undefined;
  if (specifier === undefined || !module.test(specifier)) return false;
  if (Node.isImportClause(declaration)) return exported === "default";
  if (Node.isImportSpecifier(declaration) || Node.isExportSpecifier(declaration)) return declaration.getName() === exported;
  return false;
}

function objectArgument(call: NewExpression | CallExpression, index: number): ObjectLiteralExpression | undefined {
  const argument = call.getArguments()[index];
  if (Node.isObjectLiteralExpression(argument)) return argument;
  const declaration = argument && resolveAlias(argument.getSymbol())?.getDeclarations()[0];
  const initializer = Node.isVariableDeclaration(declaration) ? declaration.getInitializer() : undefined;
  return Node.isObjectLiteralExpression(initializer) ? initializer : undefined;
}

function initializerFunction(declaration: Node | undefined) {
  const initializer = Node.isVariableDeclaration(declaration) ? declaration.getInitializer() : undefined;
  return Node.isArrowFunction(initializer) || Node.isFunctionExpression(initializer) ? initializer : undefined;
}

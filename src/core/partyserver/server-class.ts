import { Node, type ClassDeclaration, type Expression, type SourceFile } from "ts-morph";
import { RUNTIME_FILE_NAME } from "./render-runtime.js";

export const PARTYSERVER = "partyserver";
/** The handlers that make a class a party worth sharding: it holds sockets. */
export const SOCKET_HANDLERS = ["onConnect", "onMessage", "onClose"] as const;
// Deep enough for any real hierarchy; a cycle (a bad file) stops here too.
const MAX_DEPTH = 8;

/**
 * What `expression` is, when it names a partyserver export: `Server` for `Server`, for
 * `PS` after `import { Server as PS } from "partyserver"`, and for `ps.Server` after
 * `import * as ps from "partyserver"`. Undefined for anything else.
 */
export function partyserverExport(expression: Node): string | undefined {
  return importedExport(expression, (specifier) => specifier === PARTYSERVER);
}

/** Like partyserverExport, for the modules whose specifier `from` accepts (hono-party, the generated runtime). */
export function importedExport(expression: Node, from: (specifier: string) => boolean): string | undefined {
  const imported = (node: Node | undefined) => {
    const specifier = node?.getFirstAncestor(Node.isImportDeclaration)?.getModuleSpecifierValue();
    return specifier !== undefined && from(specifier);
  };
  if (Node.isPropertyAccessExpression(expression)) {
    const namespace = expression.getExpression();
    const declaration = Node.isIdentifier(namespace) ? namespace.getSymbol()?.getDeclarations()[0] : undefined;
    return Node.isNamespaceImport(declaration) && imported(declaration) ? expression.getName() : undefined;
  }
  if (!Node.isIdentifier(expression)) return undefined;
  const declaration = expression.getSymbol()?.getDeclarations()[0];
  return Node.isImportSpecifier(declaration) && imported(declaration) ? declaration.getName() : undefined;
}

/** The runtime's base class for a sharded party: the user's class extends it instead of Server. */
export const SHARDED_CLASS = "Sharded";
/** The runtime's mixin, for a class that extends a Server subclass of a library's: `shardedServer(YServer)`. */
export const SHARDED_MIXIN = "shardedServer";
/** y-partyserver: its `YServer` is partyserver's Server with Yjs's handlers on top; from 2.x `withYjs(Server)` is the same, as a mixin. */
export const Y_PARTYSERVER = "y-partyserver";
export const Y_SERVER = "YServer";
const Y_MIXIN = "withYjs";

/** What the class's chain of bases ends in: partyserver's Server, or y-partyserver's YServer. */
export type ServerBase = "Server" | typeof Y_SERVER;

/**
 * Whether `expression` is y-partyserver's Yjs server: `YServer` (imported, aliased, or through a
 * namespace), or `withYjs(Server)` over partyserver's own Server. A mixin over a class of the
 * user's (`withYjs(MyServer)`) is not: what that class overrides is unknown here.
 */
export function isYServer(expression: Node): boolean {
  const mixed = yjsMixinArgument(expression);
  if (mixed) return partyserverExport(mixed) === "Server";
  return importedExport(expression, (specifier) => specifier === Y_PARTYSERVER) === Y_SERVER;
}

/** `X` in `withYjs(X)`, y-partyserver 2.x's mixin; undefined for any other expression. */
export function yjsMixinArgument(expression: Node): Node | undefined {
  if (!Node.isCallExpression(expression)) return undefined;
  const [argument, ...more] = expression.getArguments();
  return more.length === 0 && importedExport(expression.getExpression(), (specifier) => specifier === Y_PARTYSERVER) === Y_MIXIN ? argument : undefined;
}

/** Whether a module specifier (or path) names the generated runtime, `./party-shard-server` with or without an extension. */
export function isRuntimeSpecifier(specifier: string): boolean {
  return specifier.replace(/\.[cm]?[jt]sx?$/, "").split("/").at(-1) === RUNTIME_FILE_NAME.replace(/\.ts$/, "");
}

/**
 * The base a class migrate already swapped extends instead of its own: `Sharded` (for Server),
 * `shardedServer(YServer)` (for YServer) or `withYjs(Sharded)` (for withYjs(Server)), with
 * Sharded and shardedServer imported from the generated runtime. Undefined otherwise.
 */
export function shardedBaseOf(expression: Node): ServerBase | undefined {
  const isSharded = (node: Node | undefined) => node !== undefined && Node.isIdentifier(node) && importedExport(node, isRuntimeSpecifier) === SHARDED_CLASS;
  if (isSharded(expression)) return "Server";
  if (isSharded(yjsMixinArgument(expression))) return Y_SERVER;
  if (!Node.isCallExpression(expression)) return undefined;
  const [argument] = expression.getArguments();
  const mixin = importedExport(expression.getExpression(), isRuntimeSpecifier) === SHARDED_MIXIN;
  return mixin && argument !== undefined && expression.getArguments().length === 1 && isYServer(argument) ? Y_SERVER : undefined;
}

/**
 * How a class reaches partyserver's Server: directly, through y-partyserver's YServer (`base`),
 * or through classes of the user's (`via`, nearest first); `sharded` when the last step is the
 * runtime's base (Sharded, shardedServer(YServer)) instead.
 */
export type ServerLineage = { extendsServer: true; via: ClassDeclaration[]; sharded: boolean; base: ServerBase } | { extendsServer: false };

export function serverLineage(cls: ClassDeclaration): ServerLineage {
  const via: ClassDeclaration[] = [];
  let current = cls;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const base = current.getExtends()?.getExpression();
    if (!base) return { extendsServer: false };
    if (partyserverExport(base) === "Server") return { extendsServer: true, via, sharded: false, base: "Server" };
    if (isYServer(base)) return { extendsServer: true, via, sharded: false, base: Y_SERVER };
    const sharded = shardedBaseOf(base);
    if (sharded) return { extendsServer: true, via, sharded: true, base: sharded };
    const next = classNamed(base);
    if (!next) return { extendsServer: false };
    via.push(next);
    current = next;
  }
  return { extendsServer: false };
}

/** The class of the user's that `cls` extends directly; undefined for a library's or none. */
export function baseClassOf(cls: ClassDeclaration): ClassDeclaration | undefined {
  const base = cls.getExtends()?.getExpression();
  return base && classNamed(base);
}

/** The class declaration an expression names, through imports of the project's own modules. */
function classNamed(expression: Expression | Node): ClassDeclaration | undefined {
  if (!Node.isIdentifier(expression)) return undefined;
  let symbol = expression.getSymbol();
  if (symbol?.isAlias()) symbol = symbol.getAliasedSymbol();
  const declaration = symbol?.getDeclarations()[0];
  return Node.isClassDeclaration(declaration) ? declaration : undefined;
}

/** The classes the Worker's main module exports by name (directly, `export { X } from`, `export *`). */
export function exportedClasses(main: SourceFile): Map<string, ClassDeclaration> {
  const classes = new Map<string, ClassDeclaration>();
  for (const [name, declarations] of main.getExportedDeclarations()) {
    const cls = declarations.find(Node.isClassDeclaration);
    if (cls) classes.set(name, cls);
  }
  return classes;
}

/** The socket handlers a class has, its own or inherited from classes of the user's; YServer has them all. */
export function socketHandlersOf(cls: ClassDeclaration, lineage: ServerLineage): string[] {
  if (lineage.extendsServer && lineage.base === Y_SERVER) return [...SOCKET_HANDLERS];
  const classes = [cls, ...(lineage.extendsServer ? lineage.via : [])];
  return SOCKET_HANDLERS.filter((handler) => classes.some((each) => each.getMember(handler) !== undefined));
}

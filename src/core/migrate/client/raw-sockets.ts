import { Node, type NewExpression } from "ts-morph";
import { declarationChain, isImportFrom, unwrap } from "./socket-origins.js";

/** Packages whose default (or `WebSocket`) export is a WebSocket class. */
const WS_MODULE = /^(?:ws|isomorphic-ws)$/;
/** Names the global object goes by: `globalThis.WebSocket`, `window.WebSocket`, `self.WebSocket`. */
const GLOBAL_OBJECTS = new Set(["globalThis", "window", "self"]);

/**
 * Whether `call` makes a raw WebSocket: the global one (the browser's, Node's, `globalThis.WebSocket`)
 * or the `ws` package's, under any local name. A class of the project's own named WebSocket is not.
 */
export function isRawSocketConstructor(call: NewExpression): boolean {
  const callee = unwrap(call.getExpression());
  if (Node.isPropertyAccessExpression(callee)) {
    const object = callee.getExpression();
    return callee.getName() === "WebSocket" && Node.isIdentifier(object) && GLOBAL_OBJECTS.has(object.getText()) && isGlobal(object);
  }
  if (!Node.isIdentifier(callee)) return false;
  const chain = declarationChain(callee.getSymbol());
  if (chain.some((declaration) => isImportFrom(declaration, WS_MODULE, "default") || isImportFrom(declaration, WS_MODULE, "WebSocket") || requiresWs(declaration))) return true;
  return callee.getText() === "WebSocket" && isGlobal(callee);
}

/**
 * A name no file of the project declares: the standard library is not loaded (see
 * load-client-project), so a global resolves to nothing, or to a declaration in installed types.
 */
function isGlobal(name: Node): boolean {
  return declarationChain(name.getSymbol()).every((declaration) => declaration.getSourceFile().isDeclarationFile() && declaration.getSourceFile().isInNodeModules());
}

/** `const WebSocket = require("ws")`. */
function requiresWs(declaration: Node): boolean {
  const initializer = Node.isVariableDeclaration(declaration) ? declaration.getInitializer() : undefined;
  if (!Node.isCallExpression(initializer) || initializer.getExpression().getText() !== "require") return false;
  const [specifier] = initializer.getArguments();
  return Node.isStringLiteral(specifier) && WS_MODULE.test(specifier.getLiteralValue());
}

import { Node, SyntaxKind, type CallExpression, type NewExpression, type ObjectLiteralExpression } from "ts-morph";
import { partyNames, type PartyOf } from "./party-name.js";
import { declarationChain, isImportFrom, resolveAlias } from "./socket-origins.js";
import { urlParty, type UrlParty } from "./url-party.js";

// y-partykit/provider and y-partyserver/provider export their provider class as the default;
// y-partykit/react and y-partyserver/react their useYProvider hook.
const PROVIDER_MODULE = /^y-party(?:kit|server)\/provider$/;
const HOOK_MODULE = /^y-party(?:kit|server)\/react$/;

/**
 * A Yjs provider made here: `new YPartyKitProvider(host, room, doc, options)` (y-partykit) or
 * `new YProvider(…)` (y-partyserver), or `useYProvider({ host, room, party, prefix, doc, options })`
 * (either package's react hook, which passes `{ party, prefix, ...options }` to the class).
 *
 * Each connects to `<host><prefix>` when a prefix is set (party and room are then ignored), else
 * to `<host>/parties/<party>/<room>` (`/party/<room>` in y-partykit before 0.0.31: the same
 * "main"), with `_pk` (its id) and its `params` in the query.
 */
export interface Provider {
  call: NewExpression | CallExpression;
  kind: "class" | "hook";
  /** The hook's argument (party, prefix); undefined for the class, or when it is not an object literal to read. */
  outer: ObjectLiteralExpression | undefined;
  /**
   * The options object (party, prefix, params): the class's fourth argument, the hook's
   * `options`. `missing` when there is none (nothing overrides), `unreadable` when it is a value
   * migrate cannot read or edit.
   */
  options: ObjectLiteralExpression | "missing" | "unreadable";
}

/** Where a provider connects: by its party, or by its prefix (a URL path read as a raw socket's). */
export type ProviderTarget = { by: "party"; party: PartyOf; property?: Node } | { by: "prefix"; url: UrlParty | undefined; property: Node };

/** The provider `call` makes, if it is one of y-partykit's or y-partyserver's. */
export function providerAt(call: NewExpression | CallExpression): Provider | undefined {
  const chain = declarationChain(call.getExpression().getSymbol());
  if (Node.isNewExpression(call)) {
    if (!chain.some((declaration) => isImportFrom(declaration, PROVIDER_MODULE, "default"))) return undefined;
    const args = call.getArguments();
    // `new YPartyKitProvider(...args)`: which argument is which cannot be told.
    if (args.length < 2 || args.some(Node.isSpreadElement)) return { call, kind: "class", outer: undefined, options: "unreadable" };
    const argument = args[3];
    return { call, kind: "class", outer: undefined, options: argument === undefined ? "missing" : (objectValue(argument) ?? "unreadable") };
  }
  if (!chain.some((declaration) => isImportFrom(declaration, HOOK_MODULE, "default"))) return undefined;
  const [argument] = call.getArguments();
  const outer = argument && objectValue(argument);
  if (!outer) return { call, kind: "hook", outer: undefined, options: "unreadable" };
  const property = outer.getProperty("options");
  if (!property) return { call, kind: "hook", outer, options: maySet(outer) ? "unreadable" : "missing" };
  const value = Node.isPropertyAssignment(property) ? property.getInitializerOrThrow() : Node.isShorthandPropertyAssignment(property) ? property.getNameNode() : undefined;
  return { call, kind: "hook", outer, options: (value && objectValue(value)) ?? "unreadable" };
}

/**
 * Where the provider connects, as its package decides it: the options' prefix or party first (the
 * hook spreads them over its own), then the hook's, then the default party "main". Undefined
 * when its options cannot be read.
 */
export function providerTarget(provider: Provider): ProviderTarget | undefined {
  const objects = [provider.options, provider.outer].filter((object): object is ObjectLiteralExpression => typeof object === "object");
  if (provider.options === "unreadable" || (provider.kind === "hook" && !provider.outer)) return undefined;
  for (const name of ["prefix", "party"] as const) {
    for (const object of objects) {
      const property = object.getProperty(name);
      if (!property) {
        // A spread may set it, and then it decides.
        if (maySet(object)) return { by: "party", party: { kind: "dynamic", reason: `possibly set by a spread in \`${short(object)}\`` } };
        continue;
      }
      const value = Node.isPropertyAssignment(property) ? property.getInitializerOrThrow() : Node.isShorthandPropertyAssignment(property) ? property.getNameNode() : undefined;
      if (!value) return { by: "party", party: { kind: "dynamic", reason: `set by \`${short(property)}\`` } };
      if (name === "prefix") return { by: "prefix", url: urlParty(value), property };
      return { by: "party", party: partyOf(value), property };
    }
  }
  return { by: "party", party: { kind: "literal", name: "main" } };
}

function partyOf(value: Node): PartyOf {
  const names = partyNames(value, 0);
  if (names?.length === 1) return { kind: "literal", name: names[0]! };
  if (names && names.length > 1) return { kind: "dynamic", reason: `one of ${names.map((name) => `"${name}"`).join(", ")}`, candidates: names };
  return { kind: "dynamic", reason: `the runtime value \`${value.getText()}\`` };
}

/** An object literal, written here or as a const's initializer (edited there, for every use of it). */
function objectValue(expression: Node): ObjectLiteralExpression | undefined {
  if (Node.isObjectLiteralExpression(expression)) return expression;
  if (!Node.isIdentifier(expression)) return undefined;
  const declaration = resolveAlias(expression.getSymbol())?.getDeclarations()[0];
  const constant = Node.isVariableDeclaration(declaration) && declaration.getVariableStatement()?.getDeclarationKind() === "const";
  const initializer = constant ? declaration.getInitializer() : undefined;
  return Node.isObjectLiteralExpression(initializer) ? initializer : undefined;
}

/** Whether a spread, or a computed name, of `object` may set any property. */
function maySet(object: ObjectLiteralExpression): boolean {
  return object.getProperties().some((property) => Node.isSpreadAssignment(property) || property.getFirstChildByKind(SyntaxKind.ComputedPropertyName) !== undefined);
}

function short(node: Node): string {
  const text = node.getText().replace(/\s+/g, " ");
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}

import { Node, SyntaxKind, type ObjectLiteralExpression, type ObjectLiteralElementLike } from "ts-morph";
import { detectCodeStyle } from "../../code-style.js";
import { insertPropertyEdits, lineIndent, trailingComma, type Edit } from "../../text-edits.js";
import { unwrap } from "./socket-origins.js";

export const KEY_CALL = "shardKey";

export interface RoutedOptions {
  /** Edits to the options' own file, in the order applyEdits needs them. */
  edits: Edit[];
  /** Whether the edits call shardKey, so the file must import it. */
  keyed: boolean;
}

/**
 * Points a socket's options at the router party and gives the socket a write key:
 * `{ host, room }` → `{ host, room, party: "router", query: shardKey() }`, and an existing
 * `query: X` → `query: shardKey(X)`. A query that is already keyed, or options whose query may
 * come from a spread or a computed name, keep their query as it is. `queryName`: the option the
 * connect query is (a Yjs provider's is `params`).
 */
export function routeConnection(options: ObjectLiteralExpression, routerParty: string, queryName: QueryName = "query"): RoutedOptions {
  const text = options.getSourceFile().getFullText();
  const style = detectCodeStyle(text);
  const party = `party: ${style.quote}${routerParty}${style.quote}`;
  const key = keyQuery(options, queryName);
  const query = `${queryName}: ${KEY_CALL}()`;

  const existing = options.getProperty("party");
  // `party: PARTY` and `{ party }` (a const, a prop) name the party in place: that value is replaced, never added beside.
  if (Node.isPropertyAssignment(existing) || Node.isShorthandPropertyAssignment(existing)) {
    const value = Node.isPropertyAssignment(existing) ? existing.getInitializerOrThrow() : existing;
    const quoted = `${style.quote}${routerParty}${style.quote}`;
    const edits: Edit[] = [...key.edits, { at: value.getStart(), end: value.getEnd(), insert: value === existing ? party : quoted }];
    if (key.add) edits.push(...insertAfter(text, options, existing, query, style.newline));
    return { edits, keyed: key.keyed };
  }
  const multiline = text.slice(options.getStart(), options.getEnd()).includes("\n");
  const render = (indent: string) => (!key.add ? party : multiline ? `${party},${style.newline}${indent}${query}` : `${party}, ${query}`);
  const layout = { newline: style.newline, unit: style.indent, trailingCommas: trailingComma(options) !== undefined };
  return { edits: [...key.edits, ...insertPropertyEdits(text, options, render, layout)], keyed: key.keyed };
}

/**
 * Gives a socket an earlier party-shard already pointed at the router its write key, exactly as
 * routeConnection would; the `party` property stays as written.
 */
export function keyConnection(options: ObjectLiteralExpression, queryName: QueryName = "query", after: Node | undefined = options.getProperty("party")): RoutedOptions {
  const text = options.getSourceFile().getFullText();
  const key = keyQuery(options, queryName);
  if (!key.add) return { edits: key.edits, keyed: key.keyed };
  const code = `${queryName}: ${KEY_CALL}()`;
  if (after) return { edits: [...key.edits, ...insertAfter(text, options, after, code, detectCodeStyle(text).newline)], keyed: true };
  // Options with no party of their own (a provider's, whose party is beside them): the key goes last.
  const style = detectCodeStyle(text);
  const layout = { newline: style.newline, unit: style.indent, trailingCommas: trailingComma(options) !== undefined };
  return { edits: [...key.edits, ...insertPropertyEdits(text, options, () => code, layout)], keyed: true };
}

/** The option a socket's connect query is: PartySocket's `query`, a Yjs provider's `params`. */
export type QueryName = "query" | "params";

/** What the query property needs: edits in place, a new property (`add`), or nothing. */
function keyQuery(options: ObjectLiteralExpression, queryName: QueryName): { edits: Edit[]; add: boolean; keyed: boolean } {
  const query = options.getProperty(queryName);
  if (Node.isPropertyAssignment(query)) {
    const value = query.getInitializerOrThrow();
    if (isKeyed(value)) return { edits: [], add: false, keyed: false };
    // Only around the value: what the user wrote inside stays byte for byte.
    return { edits: [{ at: value.getStart(), insert: `${KEY_CALL}(` }, { at: value.getEnd(), insert: ")" }], add: false, keyed: true };
  }
  if (Node.isShorthandPropertyAssignment(query)) {
    return { edits: [{ at: query.getStart(), end: query.getEnd(), insert: `${queryName}: ${KEY_CALL}(${queryName})` }], add: false, keyed: true };
  }
  // A method or accessor named query, or a query a spread or computed name may set: a key added
  // here could replace the user's query, so the socket goes without one (its writes then go
  // over the socket itself).
  if (query || options.getProperties().some(maySetQuery)) return { edits: [], add: false, keyed: false };
  return { edits: [], add: true, keyed: true };
}

function isKeyed(value: Node): boolean {
  const call = unwrap(value);
  return Node.isCallExpression(call) && call.getExpression().getText() === KEY_CALL;
}

function maySetQuery(property: ObjectLiteralElementLike): boolean {
  return Node.isSpreadAssignment(property) || property.getFirstChildByKind(SyntaxKind.ComputedPropertyName) !== undefined;
}

/**
 * Edits that add `code` as the property right after `property`: on a line of its own when
 * `property` ends its line (past any comment there), inline otherwise.
 */
function insertAfter(text: string, options: ObjectLiteralExpression, property: Node, code: string, newline: string): Edit[] {
  const comma = property.getNextSiblingIfKind(SyntaxKind.CommaToken);
  const after = comma ? comma.getEnd() : property.getEnd();
  const lineEnd = text.indexOf("\n", after) === -1 ? text.length : text.indexOf("\n", after);
  const rest = text.slice(after, lineEnd).replace(/\r$/, "");
  const endsLine = /^\s*(\/\/.*|\/\*.*?\*\/\s*)?$/.test(rest) && text.slice(options.getStart(), options.getEnd()).includes("\n");
  if (!endsLine) return [{ at: property.getEnd(), insert: `, ${code}` }];
  const line = `${newline}${lineIndent(text, property.getStart())}${code}`;
  const eol = after + rest.length;
  return comma ? [{ at: eol, insert: `${line},` }] : [{ at: property.getEnd(), insert: "," }, { at: eol, insert: line }];
}

import { Node, SyntaxKind } from "ts-morph";
import type { Edit } from "../../text-edits.js";
import { partyNames, type PartyOf } from "./party-name.js";
import { resolveAlias, unwrap } from "./socket-origins.js";

/** A URL's party, and where its name is written in the URL expression itself, to be replaced in place. */
export interface UrlParty {
  party: PartyOf;
  /** Set when the name is literal text of the expression passed (not of a variable it reads). */
  name?: { at: number; end: number };
}

/** Text the URL is made of (`at`: where it starts in the file, when it can be edited there), or a value read at run time. */
type Part = { kind: "text"; value: string; at?: number } | { kind: "hole"; node: Node };

const MAX_DEPTH = 8;
// A value read at run time, in the URL's text.
const HOLE = "\u0000";
const PARTY_SEGMENT = /\/parties\/([^/?#]*)/;

/**
 * The party a WebSocket URL reaches (`…/parties/<party>/<room>`), read from string literals,
 * template literals and `+` joins, following consts; a `${…}` where the party's name goes is
 * read as a party option is (a const, a conditional, a parameter's callers). Undefined when no
 * `/parties/` can be read in it: then it is not a party's URL as far as anyone can tell.
 */
export function urlParty(url: Node): UrlParty | undefined {
  const parts = urlParts(url, 0, true);
  let text = "";
  const starts: number[] = [];
  for (const part of parts) {
    starts.push(text.length);
    text += part.kind === "text" ? part.value : HOLE;
  }
  const match = PARTY_SEGMENT.exec(text);
  if (!match) return undefined;
  const segment = match[1]!;
  const from = match.index + "/parties/".length;
  if (segment === HOLE) {
    const hole = parts[starts.indexOf(from)] as Extract<Part, { kind: "hole" }>;
    const names = partyNames(hole.node, 0);
    if (names?.length === 1) return { party: { kind: "literal", name: names[0]! } };
    const reason = names ? `one of ${names.map((name) => `"${name}"`).join(", ")}` : `the runtime value \`${hole.node.getText()}\``;
    return { party: { kind: "dynamic", reason, ...(names ? { candidates: names } : {}) } };
  }
  if (segment === "" || segment.includes(HOLE)) return { party: { kind: "dynamic", reason: `a name built at run time in \`${url.getText()}\`` } };
  // The part the name starts in: the last one starting at or before it.
  let index = starts.length - 1;
  while (starts[index]! > from) index--;
  const part = parts[index]!;
  const inPart = from - starts[index]!;
  const editable = part.kind === "text" && part.at !== undefined && inPart + segment.length <= part.value.length;
  return { party: { kind: "literal", name: segment }, ...(editable ? { name: { at: part.at! + inPart, end: part.at! + inPart + segment.length } } : {}) };
}

/** The URL rewritten to reach `party` instead: the edit of its name, when it is written in place. */
export function renameParty(found: UrlParty, party: string): Edit | undefined {
  return found.name && { at: found.name.at, end: found.name.end, insert: party };
}

/** What `expression` is made of; `inPlace` while it is the argument itself (not a variable it reads), whose text may be edited. */
function urlParts(expression: Node, depth: number, inPlace: boolean): Part[] {
  const node = unwrap(expression);
  if (depth > MAX_DEPTH) return [{ kind: "hole", node }];
  if (Node.isStringLiteral(node) || Node.isNoSubstitutionTemplateLiteral(node)) {
    const value = node.getLiteralValue();
    // Escapes make the written text differ from the value: such a literal is read, never edited.
    const written = node.getText().slice(1, -1) === value;
    return [{ kind: "text", value, ...(inPlace && written ? { at: node.getStart() + 1 } : {}) }];
  }
  if (Node.isTemplateExpression(node)) {
    const literal = (piece: Node & { compilerNode: { text: string; rawText?: string } }): Part => {
      const { text, rawText } = piece.compilerNode;
      return { kind: "text", value: text, ...(inPlace && rawText === text ? { at: piece.getStart() + 1 } : {}) };
    };
    const parts: Part[] = [literal(node.getHead())];
    for (const span of node.getTemplateSpans()) parts.push(...urlParts(span.getExpression(), depth + 1, false), literal(span.getLiteral()));
    return parts;
  }
  if (Node.isBinaryExpression(node) && node.getOperatorToken().getKind() === SyntaxKind.PlusToken) {
    return [...urlParts(node.getLeft(), depth + 1, inPlace), ...urlParts(node.getRight(), depth + 1, inPlace)];
  }
  if (Node.isIdentifier(node)) {
    const declaration = resolveAlias(node.getSymbol())?.getDeclarations()[0];
    const constant = Node.isVariableDeclaration(declaration) && declaration.getVariableStatement()?.getDeclarationKind() === "const";
    const initializer = constant ? declaration.getInitializer() : undefined;
    if (initializer) return urlParts(initializer, depth + 1, false);
  }
  return [{ kind: "hole", node }];
}

import path from "node:path";
import { Node, SyntaxKind, type CallExpression, type ImportDeclaration, type NewExpression, type ObjectLiteralExpression, type SourceFile } from "ts-morph";
import { detectCodeStyle, relativeImport, statement } from "../../code-style.js";
import type { Finding, OnProgress } from "../../plan.js";
import { applyEdits, type Edit } from "../../text-edits.js";
import { findingAt } from "../findings.js";
import { HELPER_FILE_NAME, type ClientProject } from "./load-client-project.js";
import { KEY_CALL, keyConnection, routeConnection } from "./route-connection.js";
import { siteNodes, type SiteNodes } from "./site-nodes.js";
import { SocketOrigins, mayComeFromPartysocket, mayConstruct, unwrap, type Construction, type Origin } from "./socket-origins.js";

export const HELPER_CALL = "sendViaRouter";

export interface ClientTarget {
  shardedParty: string;
  routerParty: string;
}

export interface ClientFileChange {
  /** Absolute path. */
  file: string;
  before: string;
  after: string;
}

export interface ClientPlan {
  changes: ClientFileChange[];
  /** Where the helper module is (or goes), when any file needs it. */
  helperFile: string | undefined;
  findings: Finding[];
}


type PartyOf = { kind: "literal"; name: string } | { kind: "dynamic"; reason: string };

/**
 * Finds every PartySocket connection and send in the client files and plans the edits:
 * sockets to the sharded party connect through the router with a write key (`shardKey`), and
 * their sends become `sendViaRouter(socket, payload)`. Sockets already on the router without a
 * key (routed by an earlier party-shard) get their key. Everything else is left alone; what
 * cannot be told is reported.
 */
export function planClient(client: ClientProject, target: ClientTarget, onProgress?: OnProgress): ClientPlan {
  const origins = new SocketOrigins(client.typesAvailable);
  const plan: PlanState & { edits: Map<SourceFile, Edit[]> } = { edits: new Map(), helperNames: new Map(), findings: [...client.findings] };
  // A file that does not parse is reported and skipped; the rest of the run goes on.
  const program = client.project.getProgram();
  const files = client.candidates
    .map((file) => client.project.getSourceFileOrThrow(file))
    .filter((file) => {
      const [error] = program.getSyntacticDiagnostics(file);
      if (!error) return true;
      const { line, column } = file.getLineAndColumnAtPos(error.getStart() ?? 0);
      const message = error.getMessageText();
      const reason = typeof message === "string" ? message : message.getMessageText();
      plan.findings.push({ level: "manual", code: "parse-error", message: `Does not parse (${reason}); skipped.`, location: { file: file.getFilePath(), line, col: column } });
      return false;
    });
  const edit = (file: SourceFile, change: Edit) => plan.edits.set(file, [...(plan.edits.get(file) ?? []), change]);

  // Every query first, every edit after: edits are text, computed against the unchanged files.
  const checker = client.project.getTypeChecker().compilerObject;
  const sites = new Map(files.map((file) => [file, siteNodes(file, (callee) => mayComeFromPartysocket(callee, checker))]));
  const constructions = findConstructions(sites, origins);
  const partyOf = new Map(constructions.map((construction) => [construction, readParty(construction)]));
  const routed = (party: PartyOf) => party.kind === "literal" && (party.name === target.shardedParty || party.name === target.routerParty);
  const everySocketSharded = [...partyOf.values()].every(routed);

  // Options shared by several sockets (one variable passed to each) are edited once.
  const routedOptions = new Map<ObjectLiteralExpression, { keyed: boolean }>();
  for (const [construction, party] of partyOf) {
    const file = construction.call.getSourceFile();
    if (party.kind === "dynamic") {
      plan.findings.push(findingAt(file, construction.call, "manual", "party-unknown", `This socket's party is ${party.reason}; migrate cannot tell whether it is "${target.shardedParty}". If it is, connect it to party "${target.routerParty}" and send with ${HELPER_CALL}.`));
    } else if (party.name === target.shardedParty || party.name === target.routerParty) {
      // A socket an earlier party-shard routed may lack a write key: it gets one, and keeps its party.
      const upgrade = party.name === target.routerParty;
      const options = construction.options!;
      if (!routedOptions.has(options)) {
        const route = upgrade ? keyConnection(options) : routeConnection(options, target.routerParty);
        routedOptions.set(options, { keyed: route.keyed });
        for (const change of route.edits) edit(options.getSourceFile(), change);
        if (route.keyed) useHelper(plan, options.getSourceFile(), KEY_CALL);
      }
      if (!upgrade) plan.findings.push(findingAt(file, construction.call, "info", "socket-routed", `Connects through the "${target.routerParty}" router.`));
      else if (routedOptions.get(options)!.keyed) plan.findings.push(findingAt(file, construction.call, "info", "socket-keyed", "Gets a write key (upgrade from an earlier party-shard)."));
    }
  }

  const sends: SendContext = { origins, partyOf, routed, everySocketSharded, target };
  files.forEach((file, index) => {
    planSends(file, sites.get(file)!, sends, plan, edit);
    onProgress?.({ phase: "analyse", done: index + 1, total: files.length, sites: plan.findings.length });
  });

  const needing = [...plan.helperNames.keys()].map((file) => file.getFilePath());
  const helperFile = client.existingHelper ?? (needing.length > 0 ? path.join(commonDirectory(needing), HELPER_FILE_NAME) : undefined);
  const changes: ClientFileChange[] = [];
  for (const [file, edits] of plan.edits) {
    const before = file.getFullText();
    const names = plan.helperNames.get(file);
    const importEdit = names && helperFile ? importHelperEdits(file, helperFile, names) : [];
    changes.push({ file: file.getFilePath(), before, after: applyEdits(before, [...importEdit, ...edits]) });
  }
  return { changes, helperFile, findings: plan.findings };
}

interface SendContext {
  origins: SocketOrigins;
  partyOf: Map<Construction, PartyOf>;
  routed: (party: PartyOf) => boolean;
  everySocketSharded: boolean;
  target: ClientTarget;
}

/** The helper's exports each file calls, to import; and the findings so far. */
type PlanState = { helperNames: Map<SourceFile, Set<string>>; findings: Finding[] };

function useHelper(plan: PlanState, file: SourceFile, name: string): void {
  const names = plan.helperNames.get(file) ?? new Set<string>();
  plan.helperNames.set(file, names.add(name));
}

/** Every `.send` in `file` on a socket: rewritten, reported, or (not a routed socket) left alone. */
function planSends(file: SourceFile, sites: SiteNodes, context: SendContext, plan: PlanState, edit: (file: SourceFile, change: Edit) => void): void {
  for (const access of sites.sendAccesses) {
    const origin = context.origins.of(access.getExpression());
    if (!origin) continue;
    const verdict = classify(origin, context);
    const call = access.getParent();
    const isCall = Node.isCallExpression(call) && call.getExpression() === access;
    if (verdict.kind === "skip") continue;
    if (verdict.kind === "manual") {
      plan.findings.push(findingAt(file, access, "manual", "send-unclassified", `${verdict.reason} Left as it is.`));
    } else if (!isCall) {
      plan.findings.push(findingAt(file, access, "manual", "send-not-called", `\`${access.getText()}\` is used without being called here; route its writes with ${HELPER_CALL}(socket, payload).`));
    } else {
      edit(file, rewriteSend(call as CallExpression, access.getExpression()));
      useHelper(plan, file, HELPER_CALL);
      plan.findings.push(findingAt(file, access, "info", "send-rewritten", `${access.getExpression().getText()}.send → ${HELPER_CALL}`));
    }
  }
  for (const access of sites.dynamicAccesses) {
    if (context.origins.of(access.getExpression())) {
      plan.findings.push(findingAt(file, access, "manual", "send-dynamic", `\`${access.getText()}\` reaches a socket method by a computed name; if it is send, route it with ${HELPER_CALL}.`));
    }
  }
  for (const declaration of sites.anyDeclarations) {
    if (file.getText().includes(`${declaration.getName()}.send(`)) {
      plan.findings.push(findingAt(file, declaration, "manual", "send-any", `\`${declaration.getName()}\` is typed any, so migrate cannot tell whether its sends are PartySocket sends. Give it a type.`));
    }
  }
}

type Verdict = { kind: "rewrite" } | { kind: "skip" } | { kind: "manual"; reason: string };

function classify(origin: Origin, { partyOf, routed, everySocketSharded, target }: SendContext): Verdict {
  if (origin.kind === "typed") {
    return everySocketSharded
      ? { kind: "rewrite" }
      : { kind: "manual", reason: `This is a PartySocket, but the project also has sockets to parties other than "${target.shardedParty}" and migrate cannot tell which this is.` };
  }
  const party = [...partyOf.entries()].find(([construction]) => construction.call === origin.construction.call)?.[1] ?? readParty(origin.construction);
  if (party.kind === "dynamic") return { kind: "manual", reason: `This socket's party is ${party.reason}.` };
  return routed(party) ? { kind: "rewrite" } : { kind: "skip" };
}

/** Every `new PartySocket`, `usePartySocket` and subclass `super(...)`, once each. */
function findConstructions(sites: Map<SourceFile, SiteNodes>, origins: SocketOrigins): Construction[] {
  const found = new Map<Node, Construction>();
  for (const { news, constructorCalls } of sites.values()) {
    const calls = [...news, ...constructorCalls.filter(mayConstruct)];
    for (const call of calls) {
      const origin = origins.of(call);
      if (origin?.kind === "construction" && (origin.construction.call === call || isSuperCallIn(origin.construction.call, call))) {
        found.set(origin.construction.call, origin.construction);
      }
    }
  }
  return [...found.values()];
}

function isSuperCallIn(made: NewExpression | CallExpression, call: Node): boolean {
  return made.getExpression().getKind() === SyntaxKind.SuperKeyword && Node.isNewExpression(call);
}

function readParty(construction: Construction): PartyOf {
  const { options } = construction;
  if (!options) return { kind: "dynamic", reason: "set by options migrate cannot read (not an object literal)" };
  const property = options.getProperty("party");
  if (!property) {
    const spread = options.getProperties().some((p) => Node.isSpreadAssignment(p));
    return spread ? { kind: "dynamic", reason: "possibly set by a spread" } : { kind: "literal", name: "main" };
  }
  const value = Node.isPropertyAssignment(property) ? unwrap(property.getInitializerOrThrow()) : undefined;
  if (Node.isStringLiteral(value) || Node.isNoSubstitutionTemplateLiteral(value)) return { kind: "literal", name: value.getLiteralValue() };
  return { kind: "dynamic", reason: `the runtime value \`${property.getText()}\`` };
}

/**
 * `socket.send(x)` / `socket?.send(x)` → `sendViaRouter(socket, x)`. Only the part up to the
 * opening parenthesis changes, so the arguments keep their layout and comments. The helper
 * ignores a nullish socket, as `?.` did.
 */
function rewriteSend(call: CallExpression, receiver: Node): Edit {
  const open = call.getFirstChildByKindOrThrow(SyntaxKind.OpenParenToken);
  const target = Node.isParenthesizedExpression(receiver) ? receiver.getExpression() : receiver;
  const first = call.getArguments()[0];
  const firstOnNextLine = first !== undefined && call.getSourceFile().getFullText().slice(open.getEnd(), first.getStart()).includes("\n");
  const separator = first === undefined ? "" : firstOnNextLine ? "," : ", ";
  return { at: call.getStart(), end: open.getEnd(), insert: `${HELPER_CALL}(${target.getText()}${separator}` };
}

/**
 * `import { sendViaRouter, shardKey } from "<helper>"` (only the names the file calls) in the
 * file's own style, after its last import (or its directives). A file that already imports
 * from the helper gets the missing names added to that import instead.
 */
function importHelperEdits(file: SourceFile, helperFile: string, names: Set<string>): Edit[] {
  const existing = file.getImportDeclarations().find((declaration) => importsFile(declaration, helperFile));
  const named = existing && !existing.isTypeOnly() ? existing.getNamedImports() : [];
  const bound = new Set(named.map((specifier) => specifier.getAliasNode()?.getText() ?? specifier.getName()));
  const missing = [...names].filter((name) => !bound.has(name)).sort();
  if (missing.length === 0) return [];
  if (named.length > 0) return [{ at: named.at(-1)!.getEnd(), insert: missing.map((name) => `, ${name}`).join("") }];

  const text = file.getFullText();
  const style = detectCodeStyle(text);
  const specifier = relativeImport(file.getFilePath(), helperFile, text);
  const line = statement(style, `import { ${missing.join(", ")} } from ${style.quote}${specifier}${style.quote}`);
  const anchor = file.getImportDeclarations().at(-1) ?? directives(file).at(-1);
  if (anchor) return [{ at: anchor.getEnd(), insert: `${style.newline}${line}` }];
  return [{ at: 0, insert: `${line}${style.newline}${style.newline}` }];
}

/** Whether `declaration` imports `target` by a relative path, with or without an extension. */
function importsFile(declaration: ImportDeclaration, target: string): boolean {
  const specifier = declaration.getModuleSpecifierValue();
  if (!specifier.startsWith(".")) return false;
  const imported = path.resolve(path.dirname(declaration.getSourceFile().getFilePath()), specifier);
  return imported.replace(/\.[cm]?[jt]s$/, "") === target.replace(/\.ts$/, "");
}

/** Leading "use client"-style statements, which must stay first. */
function directives(file: SourceFile): Node[] {
  const found: Node[] = [];
  for (const statement of file.getStatements()) {
    if (!Node.isExpressionStatement(statement) || !Node.isStringLiteral(statement.getExpression())) break;
    found.push(statement);
  }
  return found;
}

function commonDirectory(files: string[]): string {
  let common = path.dirname(files[0]!);
  for (const file of files) {
    while (!`${path.dirname(file)}${path.sep}`.startsWith(`${common}${path.sep}`)) common = path.dirname(common);
  }
  return common;
}

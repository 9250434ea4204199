import path from "node:path";
import type { WritesMode } from "../migrate-options.js";
import { Node, SyntaxKind, type CallExpression, type ImportDeclaration, type NewExpression, type SourceFile } from "ts-morph";
import { importEdits } from "../../add-import.js";
import { detectCodeStyle, relativeImport } from "../../code-style.js";
import type { Finding, OnProgress } from "../../plan.js";
import { applyEdits, type Edit } from "../../text-edits.js";
import { findingAt } from "../../findings.js";
import { HELPER_FILE_NAME, type ClientGroup, type ClientProject } from "./load-client-project.js";
import { partyReach, readParty, type PartyOf } from "./party-name.js";
import { planProvider } from "./plan-providers.js";
import { planRawSocket, rawSendFinding, rawSocketRouted } from "./plan-raw-sockets.js";
import { providerAt, type Provider } from "./providers.js";
import { isRawSocketConstructor } from "./raw-sockets.js";
import { KEY_CALL, keyConnection, routeConnection } from "./route-connection.js";
import { siteNodes, type SiteNodes } from "./site-nodes.js";
import { SocketOrigins, mayComeFromPartysocket, mayConstruct, type Construction, type Origin } from "./socket-origins.js";

const HELPER_CALL = "sendViaRouter";

export interface ClientTarget {
  shardedParty: string;
  routerParty: string;
  /**
   * How routed sockets write: `routed` (the default) rewrites their sends to sendViaRouter;
   * `socket` keeps `socket.send`, which the socket's shard relays to the leader.
   */
  writes?: WritesMode;
  /**
   * Set on PartyServer, which has no `main` party (/parties/main/ answers 400): a socket that
   * names no party is warned about and left as it is, never taken for the sharded one.
   */
  noMainParty?: boolean;
}


export interface ClientFileChange {
  /** Absolute path. */
  file: string;
  before: string;
  after: string;
}

export interface ClientPlan {
  changes: ClientFileChange[];
  /** Where the helper modules are (or go): one per package that needs it. */
  helperFiles: string[];
  /** Variables holding a socket to the sharded party or the router, by file: a component's template may send on them. */
  routedSockets: { file: string; name: string }[];
  findings: Finding[];
}

/**
 * Finds every PartySocket connection and send in the client files and plans the edits:
 * sockets to the sharded party connect through the router with a write key (`shardKey`), and
 * their sends become `sendViaRouter(socket, payload)`; Yjs providers to it connect through the
 * router with a write key too (plan-providers.ts). Sockets already on the router without a
 * key (routed by an earlier party-shard) get their key. Everything else is left alone; what
 * cannot be told is reported.
 */
export function planClient(client: ClientProject, target: ClientTarget, onProgress?: OnProgress): ClientPlan {
  const plan: PlanState = { edits: new Map(), texts: new Map(), sourceFiles: new Map(), helperNames: new Map(), findings: [...client.findings] };
  // Every query first, every edit after: edits are text, computed against the unchanged files.
  const groups = client.groups.map((group) => analyseGroup(group, plan));
  const edit = (file: SourceFile, change: Edit) => {
    const key = file.getFilePath();
    plan.texts.set(key, file.getFullText());
    plan.sourceFiles.set(key, file);
    const edits = plan.edits.get(key) ?? [];
    // A socket made in one package and used in another is seen from both: its edits are made once.
    if (!edits.some((known) => known.at === change.at && known.end === change.end && known.insert === change.insert)) plan.edits.set(key, [...edits, change]);
  };

  const constructions = new Map<string, Construction>();
  for (const { sites, origins } of groups) for (const construction of findConstructions(sites, origins)) constructions.set(siteKey(construction.call), constructions.get(siteKey(construction.call)) ?? construction);
  const partyOf = new Map([...constructions].map(([key, construction]) => [key, readParty(construction)]));

  // Options shared by several sockets (one variable passed to each) are edited once.
  const routedOptions = new Map<string, { keyed: boolean }>();
  const routedSockets: ClientPlan["routedSockets"] = [];
  for (const [key, construction] of constructions) {
    const party = partyOf.get(key)!;
    const file = construction.call.getSourceFile();
    const reach = partyReach(party, target);
    if (reach === "unknown" && party.kind === "dynamic") {
      plan.findings.push(findingAt(file, construction.call, "manual", "party-unknown", `This socket's party is ${party.reason}; migrate cannot tell whether it is "${target.shardedParty}". If it is, connect it to party "${target.routerParty}" with query: shardKey(…); its sends already go through ${HELPER_CALL}, which routes them once it does.`));
    } else if (reach === "routed" && party.kind === "literal") {
      const declaration = construction.call.getParent();
      if (Node.isVariableDeclaration(declaration)) routedSockets.push({ file: file.getFilePath(), name: declaration.getName() });
      // A socket an earlier party-shard routed may lack a write key: it gets one, and keeps its party.
      const upgrade = party.name === target.routerParty;
      const options = construction.options!;
      const optionsKey = siteKey(options);
      if (!routedOptions.has(optionsKey)) {
        const route = upgrade ? keyConnection(options) : routeConnection(options, target.routerParty);
        routedOptions.set(optionsKey, { keyed: route.keyed });
        for (const change of route.edits) edit(options.getSourceFile(), change);
        if (route.keyed) useHelper(plan, options.getSourceFile(), KEY_CALL);
      }
      if (!upgrade) plan.findings.push(findingAt(file, construction.call, "info", "socket-routed", `Connects through the "${target.routerParty}" router.`));
      else if (routedOptions.get(optionsKey)!.keyed) plan.findings.push(findingAt(file, construction.call, "info", "socket-keyed", "Gets a write key (upgrade from an earlier party-shard)."));
    } else if (target.noMainParty && party.kind === "literal" && party.name === "main") {
      plan.findings.push(findingAt(file, construction.call, "warning", "socket-main-party", `This socket connects to party "main" (/parties/main/), which PartyServer does not have: the Worker answers 400. Left as it is; if it is meant for the sharded class, set party: "${target.shardedParty}" and run migrate again.`));
    }
  }

  // Yjs providers to the sharded party: through the router, with a write key, as a PartySocket is.
  const providers = new Map<string, Provider>();
  for (const { sites } of groups) for (const { news, constructorCalls } of sites.values()) for (const call of [...news, ...constructorCalls]) {
    const provider = providers.has(siteKey(call)) ? undefined : providerAt(call);
    if (provider) providers.set(siteKey(call), provider);
  }
  for (const provider of providers.values()) {
    const work = planProvider(provider, target);
    for (const change of work.edits) edit(change.file, change.edit);
    for (const file of work.keyed) useHelper(plan, file, KEY_CALL);
    if (work.finding) plan.findings.push(work.finding);
  }

  // Raw WebSockets to the sharded party: their URL reaches the router where the party's name is written in it.
  const rawSockets = new Map<string, NewExpression>();
  for (const { sites } of groups) for (const { news } of sites.values()) for (const call of news.filter(isRawSocketConstructor)) rawSockets.set(siteKey(call), call);
  for (const call of rawSockets.values()) {
    const { edit: change, finding } = planRawSocket(call, target);
    if (change) edit(call.getSourceFile(), change);
    if (finding) plan.findings.push(finding);
  }
  // A raw socket's URL is read once, however many sends it has.
  const rawRouted = new Map<string, boolean>();
  const isRawRouted = (call: NewExpression) => {
    const key = siteKey(call);
    if (!rawRouted.has(key)) rawRouted.set(key, rawSocketRouted(call, target));
    return rawRouted.get(key)!;
  };

  let analysed = 0;
  const total = groups.reduce((sum, group) => sum + group.files.length, 0);
  for (const { files, sites, origins } of groups) {
    const sends: SendContext = { origins, partyOf, target, isRawRouted };
    for (const file of files) {
      // With --writes socket every send stays as written: there is nothing to rewrite or report.
      if (target.writes !== "socket") planSends(file, sites.get(file)!, sends, plan, edit);
      onProgress?.({ phase: "analyse", done: ++analysed, total, sites: plan.findings.length });
    }
  }

  const helperFiles = helperLocations(client, [...plan.helperNames.keys()]);
  const changes: ClientFileChange[] = [];
  for (const [file, edits] of plan.edits) {
    const before = plan.texts.get(file)!;
    const names = plan.helperNames.get(file);
    const importEdit = names ? importHelperEdits(plan.sourceFiles.get(file)!, helperFiles.get(client.packageOf(file))!, names) : [];
    changes.push({ file, before, after: applyEdits(before, [...importEdit, ...edits]) });
  }
  // A helper an earlier migrate wrote is kept up to date even where nothing new calls it.
  return { changes, helperFiles: [...new Set([...client.existingHelpers.values(), ...helperFiles.values()])], routedSockets, findings: dedupeFindings(plan.findings) };
}

/** One group's files that parse (the others are reported and skipped; the run goes on), and their site nodes. */
function analyseGroup(group: ClientGroup, plan: PlanState) {
  const origins = new SocketOrigins(group.typesAvailable, isRawSocketConstructor);
  const program = group.project.getProgram();
  const files = group.candidates
    .map((file) => group.project.getSourceFileOrThrow(file))
    .filter((file) => {
      const [error] = program.getSyntacticDiagnostics(file);
      if (!error) return true;
      const { line, column } = file.getLineAndColumnAtPos(error.getStart() ?? 0);
      const message = error.getMessageText();
      const reason = typeof message === "string" ? message : message.getMessageText();
      plan.findings.push({ level: "manual", code: "parse-error", message: `Does not parse (${reason}); skipped.`, location: { file: file.getFilePath(), line, col: column } });
      return false;
    });
  const checker = group.project.getTypeChecker().compilerObject;
  const sites = new Map(files.map((file) => [file, siteNodes(file, (callee) => mayComeFromPartysocket(callee, checker))]));
  return { origins, files, sites };
}

/** Where a node is, the same in every group's project: constructions and options seen from two packages are one. */
function siteKey(node: Node): string {
  return `${node.getSourceFile().getFilePath()}:${node.getStart()}`;
}

/** Each package's helper: the one an earlier migrate wrote, else beside the files of that package that call it. */
function helperLocations(client: ClientProject, needing: string[]): Map<string, string> {
  const byPackage = new Map<string, string[]>();
  for (const file of needing) byPackage.set(client.packageOf(file), [...(byPackage.get(client.packageOf(file)) ?? []), file]);
  return new Map([...byPackage].map(([dir, files]) => [dir, client.existingHelpers.get(dir) ?? path.join(commonDirectory(files), HELPER_FILE_NAME)]));
}

function dedupeFindings(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((finding) => {
    const key = `${finding.code} ${finding.location?.file}:${finding.location?.line}:${finding.location?.col}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

interface SendContext {
  origins: SocketOrigins;
  partyOf: Map<string, PartyOf>;
  target: ClientTarget;
  /** Whether a raw WebSocket's URL reaches the sharded party or the router. */
  isRawRouted: (call: NewExpression) => boolean;
}

/** Edits and texts by file path, the helper's exports each file calls (to import), and the findings so far. */
interface PlanState {
  edits: Map<string, Edit[]>;
  texts: Map<string, string>;
  sourceFiles: Map<string, SourceFile>;
  helperNames: Map<string, Set<string>>;
  findings: Finding[];
}

function useHelper(plan: PlanState, file: SourceFile, name: string): void {
  const names = plan.helperNames.get(file.getFilePath()) ?? new Set<string>();
  plan.helperNames.set(file.getFilePath(), names.add(name));
}

/** Every `.send` in `file` on a socket: rewritten, reported, or (not a routed socket) left alone. */
function planSends(file: SourceFile, sites: SiteNodes, context: SendContext, plan: PlanState, edit: (file: SourceFile, change: Edit) => void): void {
  for (const access of sites.sendAccesses) {
    const origin = context.origins.of(access.getExpression());
    if (!origin) continue;
    if (origin.kind === "raw") {
      if (context.isRawRouted(origin.call)) plan.findings.push(rawSendFinding(file, access, context.target));
      continue;
    }
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
      const atRunTime = verdict.atRunTime ? ` (its party is not known here: the helper routes it only if the socket connects through "${context.target.routerParty}", and sends it as before otherwise)` : "";
      plan.findings.push(findingAt(file, access, "info", "send-rewritten", `${access.getExpression().getText()}.send → ${HELPER_CALL}${atRunTime}`));
    }
  }
  for (const access of sites.dynamicAccesses) {
    const origin = context.origins.of(access.getExpression());
    if (origin && (origin.kind !== "raw" || context.isRawRouted(origin.call))) {
      plan.findings.push(findingAt(file, access, "manual", "send-dynamic", `\`${access.getText()}\` reaches a socket method by a computed name; if it is send, route it with ${HELPER_CALL}.`));
    }
  }
  for (const declaration of sites.anyDeclarations) {
    if (file.getText().includes(`${declaration.getName()}.send(`)) {
      plan.findings.push(findingAt(file, declaration, "manual", "send-any", `\`${declaration.getName()}\` is typed any, so migrate cannot tell whether its sends are PartySocket sends. Give it a type.`));
    }
  }
}

/** `atRunTime`: which party the socket is on cannot be told here, so the helper decides from the socket's URL. */
type Verdict = { kind: "rewrite"; atRunTime: boolean } | { kind: "skip" } | { kind: "manual"; reason: string };

/**
 * A send on a socket to the sharded party (or the router) is routed; one to another party is
 * left, also when its party is a runtime value that can only be other parties. A socket whose
 * party cannot be told (typed PartySocket, a party read at run time) is never left silently:
 * sendViaRouter checks the socket's own party when it sends, so routing its sends is right
 * whichever party it is on.
 */
function classify(origin: Exclude<Origin, { kind: "raw" }>, { partyOf, target }: SendContext): Verdict {
  if (origin.kind === "typed") return { kind: "rewrite", atRunTime: true };
  const reach = partyReach(partyOf.get(siteKey(origin.construction.call)) ?? readParty(origin.construction), target);
  if (reach === "unknown") return { kind: "rewrite", atRunTime: true };
  return reach === "routed" ? { kind: "rewrite", atRunTime: false } : { kind: "skip" };
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
  // sendViaRouter returns a promise: as a statement of its own it is marked void, as projects
  // with @typescript-eslint/no-floating-promises require; a value used elsewhere is left as is.
  const statement = Node.isExpressionStatement(call.getParent()) ? "void " : "";
  return { at: call.getStart(), end: open.getEnd(), insert: `${statement}${HELPER_CALL}(${target.getText()}${separator}` };
}

/**
 * `import { sendViaRouter, shardKey } from "<helper>"` (only the names the file calls), or the
 * missing names added to an import of the helper the file already has.
 */
function importHelperEdits(file: SourceFile, helperFile: string, names: Set<string>): Edit[] {
  const text = file.getFullText();
  const wanted = { names: [...names], specifier: relativeImport(file.getFilePath(), helperFile, text), isModule: (declaration: ImportDeclaration) => importsFile(declaration, helperFile) };
  return importEdits(file, wanted, detectCodeStyle(text));
}

/** Whether `declaration` imports `target` by a relative path, with or without an extension. */
function importsFile(declaration: ImportDeclaration, target: string): boolean {
  const specifier = declaration.getModuleSpecifierValue();
  if (!specifier.startsWith(".")) return false;
  const imported = path.resolve(path.dirname(declaration.getSourceFile().getFilePath()), specifier);
  return imported.replace(/\.[cm]?[jt]s$/, "") === target.replace(/\.ts$/, "");
}

function commonDirectory(files: string[]): string {
  let common = path.dirname(files[0]!);
  for (const file of files) {
    while (!`${path.dirname(file)}${path.sep}`.startsWith(`${common}${path.sep}`)) common = path.dirname(common);
  }
  return common;
}

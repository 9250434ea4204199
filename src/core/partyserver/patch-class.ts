import { Node, SyntaxKind, type ClassDeclaration, type Identifier, type SourceFile } from "ts-morph";
import type { Finding } from "../plan.js";
import type { Edit } from "../text-edits.js";
import { findingAt, type FindingCode, type LevelOf } from "../findings.js";
import { baseClassOf, isYServer, partyserverExport, serverLineage, SHARDED_CLASS, SHARDED_MIXIN, Y_SERVER, yjsMixinArgument } from "./server-class.js";

/** Server members the runtime's Sharded overrides: a class that overrides them too bypasses the shards. */
const RUNTIME_MEMBERS = ["fetch", "webSocketMessage", "webSocketClose", "webSocketError", "broadcast", "getConnections", "getConnection"];
// Sharded's versions span the shards; an override that calls super's keeps that. The socket and
// fetch entry points are different: Sharded takes the shards' own traffic there, before any check of the user's.
const SPANNING_MEMBERS = ["broadcast", "getConnections", "getConnection"];
const HANDLERS = ["onConnect", "onMessage", "onClose", "onError", "onRequest"];

export interface ClassPatch {
  /** The file the edits are in: the sharded class's, or that of the class of the user's it extends Server through. */
  file: SourceFile;
  edits: Edit[];
  /** The `Server` identifier the swap replaces (its import may go). */
  replaced: Identifier[];
  /** What the file must import from the runtime: `Sharded` (also in `withYjs(Sharded)`), or `shardedServer` for a YServer. */
  runtimeNames: string[];
  findings: Finding[];
}

/**
 * `class Chat extends Server<Env>` → `class Chat extends Sharded<Env>`, `class Doc extends
 * YServer<Env>` → `class Doc extends shardedServer(YServer)<Env>` (YServer's own handlers run at
 * the leader, under the runtime), and `withYjs(Server)<Env>` → `withYjs(Sharded)<Env>` (the mixin
 * over the runtime's base: TypeScript loses Server's type parameters in
 * `shardedServer(withYjs(Server))`): the type arguments stay, only a name changes. What the
 * runtime cannot lead through is reported, not rewritten: overrides of the members Sharded takes
 * over, an onStart written as a field (it would replace Sharded's wrapper). Through classes of
 * the user's (`Chat extends Logged extends Server`) the one that extends Server gets the base,
 * when no other class extends any of them (`classes`: every class of the Worker's modules).
 */
export function patchClass(cls: ClassDeclaration, className: string, classes: readonly ClassDeclaration[] = []): ClassPatch {
  const findings: Finding[] = [];
  const lineage = serverLineage(cls);
  for (const each of [cls, ...(lineage.extendsServer ? lineage.via : [])]) findings.push(...memberFindings(each, className));
  const base = cls.getExtends()?.getExpression();
  const unchanged = { file: cls.getSourceFile(), edits: [], replaced: [], runtimeNames: [], findings };
  if (!base || (lineage.extendsServer && lineage.sharded)) return unchanged;
  if (!lineage.extendsServer || lineage.via.length === 0) {
    const swap = swapBase(cls, className, "");
    if (swap) return { ...swap, findings: [...swap.findings, ...findings] };
    findings.push(findingAt(cls.getSourceFile(), base, "manual", "class-not-swappable", `${className} extends ${base.getText()}, which is not Server from "partyserver" (nor YServer or withYjs(Server) from "y-partyserver"): migrate cannot give it the runtime's base.`));
    return unchanged;
  }
  // Through classes of the user's: the one that extends Server (or YServer) gets the runtime's
  // base, unless another class extends one of them too (it would be sharded as well, unasked).
  const top = lineage.via.at(-1)!;
  const chain = lineage.via.map((each) => each.getName() ?? "(anonymous)").join(" → ");
  const sharers = classes.filter((other) => other !== cls && !lineage.via.includes(other) && lineage.via.some((each) => baseClassOf(other) === each));
  const swap = sharers.length === 0 ? swapBase(top, className, ` through ${chain}, which only ${className} extends`) : undefined;
  if (swap) return { ...swap, findings: [...swap.findings, ...findings] };
  const [root, runtimeBase] = lineage.base === Y_SERVER ? [`${Y_SERVER} from "y-partyserver"`, `${SHARDED_MIXIN}(${Y_SERVER})`] : [`Server from "partyserver"`, SHARDED_CLASS];
  const others = sharers.map((other) => other.getName() ?? "(anonymous)").join(", ");
  findings.push(
    findingAt(cls.getSourceFile(), base, "manual", "class-not-swappable", `${className} extends ${chain}, a class of yours that ${others} extend${sharers.length === 1 ? "s" : ""} too: migrate does not give it the runtime's base, which would shard ${sharers.length === 1 ? "that class" : "those classes"} as well. Make ${className} extend ${runtimeBase} (from the runtime) with what it needs of ${chain}, or give ${top.getName() ?? "that class"} the base ${runtimeBase} in place of ${root.split(" ")[0]} if every class under it should be sharded.`),
  );
  return unchanged;
}

/**
 * The runtime's base for `target`, whose base is Server, YServer or withYjs(Server) itself: the
 * edit and the finding (`via`: how the sharded class reaches `target`). Undefined for another base.
 */
function swapBase(target: ClassDeclaration, className: string, via: string): ClassPatch | undefined {
  const base = target.getExtends()?.getExpression();
  if (!base) return undefined;
  const file = target.getSourceFile();
  const subject = via === "" ? "it" : (target.getName() ?? "it");
  const swapped = (from: string, to: string, more = "") => findingAt(file, base, "info", "class-swapped", `${className} now leads its shards${via}: ${subject} extends ${to} instead of ${from}${more}.`);
  const yjs = ", whose onStart, onConnect and onMessage run at the leader for clients on every shard";
  const mixed = yjsMixinArgument(base);
  if (mixed && isYServer(base)) {
    return { file, edits: [{ at: mixed.getStart(), end: mixed.getEnd(), insert: SHARDED_CLASS }], replaced: Node.isIdentifier(mixed) ? [mixed] : [], runtimeNames: [SHARDED_CLASS], findings: [swapped("withYjs(Server)", `withYjs(${SHARDED_CLASS})`, yjs)] };
  }
  if (isYServer(base)) {
    const to = `${SHARDED_MIXIN}(${base.getText()})`;
    return { file, edits: [{ at: base.getStart(), end: base.getEnd(), insert: to }], replaced: [], runtimeNames: [SHARDED_MIXIN], findings: [swapped(Y_SERVER, to, yjs)] };
  }
  if (partyserverExport(base) !== "Server") return undefined;
  // `ps.Server` keeps its namespace import; a plain or aliased `Server` may lose its import.
  return { file, edits: [{ at: base.getStart(), end: base.getEnd(), insert: SHARDED_CLASS }], replaced: Node.isIdentifier(base) ? [base] : [], runtimeNames: [SHARDED_CLASS], findings: [swapped("Server", SHARDED_CLASS)] };
}

function callsSuper(member: Node, name: string): boolean {
  return member.getDescendants().some((node) => Node.isPropertyAccessExpression(node) && node.getExpression().getKind() === SyntaxKind.SuperKeyword && node.getName() === name);
}

function memberFindings(cls: ClassDeclaration, className: string): Finding[] {
  const file = cls.getSourceFile();
  const findings: Finding[] = [];
  const owner = cls.getName() === className ? className : `${cls.getName() ?? "its base class"} (a base of ${className})`;
  for (const member of cls.getMembers()) {
    if (Node.isConstructorDeclaration(member) || Node.isClassStaticBlockDeclaration(member) || member.isStatic()) continue;
    const name = member.getName();
    if (SPANNING_MEMBERS.includes(name) && callsSuper(member, name)) {
      findings.push(findingAt(file, member, "info", "server-override", `${owner} overrides ${name} and calls super.${name}, which is ${SHARDED_CLASS}'s: it still spans every shard.`));
    } else if (RUNTIME_MEMBERS.includes(name)) {
      findings.push(findingAt(file, member, "manual", "server-override", `${owner} overrides ${name}, which ${SHARDED_CLASS} takes over to lead the shards; clients on a shard would bypass it. Move that logic into onConnect/onMessage/onClose/onRequest, or call super.${name} first and check what it returns.`));
    } else if (name === "onStart" && Node.isPropertyDeclaration(member)) {
      // Sharded wraps this.onStart in its constructor; a field is assigned after it and replaces the wrapper.
      findings.push(findingAt(file, member, "manual", "handler-field", `${owner} declares onStart as a field, not a method: a field is set after ${SHARDED_CLASS}'s constructor and replaces the wrapper that asks the shards who is connected when the room starts, so a restarted leader would not know its clients until each link speaks. Write it as a method: onStart(…) { … }.`));
    } else if (HANDLERS.includes(name) && Node.isPropertyDeclaration(member)) {
      findings.push(findingAt(file, member, "info", "handler-field", `${owner} declares ${name} as a field; that works: ${SHARDED_CLASS} calls this.${name} for each event, wherever it comes from.`));
    }
  }
  return findings;
}

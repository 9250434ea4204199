import { Node, SyntaxKind, type ClassDeclaration, type Identifier } from "ts-morph";
import type { Finding } from "../plan.js";
import type { Edit } from "../text-edits.js";
import { findingAt, type FindingCode, type LevelOf } from "../findings.js";
import { isShardedBase, isYServer, partyserverExport, serverLineage, SHARDED_CLASS, SHARDED_MIXIN, Y_SERVER, yjsMixinArgument } from "./server-class.js";

/** Server members the runtime's Sharded overrides: a class that overrides them too bypasses the shards. */
const RUNTIME_MEMBERS = ["fetch", "webSocketMessage", "webSocketClose", "webSocketError", "broadcast", "getConnections", "getConnection"];
// Sharded's versions span the shards; an override that calls super's keeps that. The socket and
// fetch entry points are different: Sharded takes the shards' own traffic there, before any check of the user's.
const SPANNING_MEMBERS = ["broadcast", "getConnections", "getConnection"];
const HANDLERS = ["onConnect", "onMessage", "onClose", "onError", "onRequest"];

export interface ClassPatch {
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
 * over, an onStart written as a field (it would replace Sharded's wrapper), and a base class of
 * the user's between the class and Server or YServer.
 */
export function patchClass(cls: ClassDeclaration, className: string): ClassPatch {
  const file = cls.getSourceFile();
  const finding = <Code extends FindingCode>(node: Node | undefined, level: LevelOf<Code>, code: Code, message: string) => findingAt(file, node, level, code, message);
  const findings: Finding[] = [];
  const lineage = serverLineage(cls);
  for (const each of [cls, ...(lineage.extendsServer ? lineage.via : [])]) findings.push(...memberFindings(each, className));
  const base = cls.getExtends()?.getExpression();
  const unchanged = { edits: [], replaced: [], runtimeNames: [], findings };
  if (!base || isShardedBase(base)) return unchanged;
  const mixed = yjsMixinArgument(base);
  if (mixed && isYServer(base)) {
    findings.unshift(finding(base, "info", "class-swapped", `${className} now leads its shards: it extends withYjs(${SHARDED_CLASS}) instead of withYjs(Server), whose onStart, onConnect and onMessage run at the leader for clients on every shard.`));
    return { edits: [{ at: mixed.getStart(), end: mixed.getEnd(), insert: SHARDED_CLASS }], replaced: Node.isIdentifier(mixed) ? [mixed] : [], runtimeNames: [SHARDED_CLASS], findings };
  }
  if (isYServer(base)) {
    const swapped = `${SHARDED_MIXIN}(${base.getText()})`;
    findings.unshift(finding(base, "info", "class-swapped", `${className} now leads its shards: it extends ${swapped} instead of ${Y_SERVER}, whose onStart, onConnect and onMessage run at the leader for clients on every shard.`));
    return { edits: [{ at: base.getStart(), end: base.getEnd(), insert: swapped }], replaced: [], runtimeNames: [SHARDED_MIXIN], findings };
  }
  if (partyserverExport(base) !== "Server") {
    const via = lineage.extendsServer ? lineage.via.map((each) => each.getName() ?? "(anonymous)").join(" → ") : base.getText();
    const [root, swap] = lineage.extendsServer && lineage.base === Y_SERVER ? [`${Y_SERVER} from "y-partyserver"`, `${SHARDED_MIXIN}(${Y_SERVER})`] : [`Server from "partyserver"`, SHARDED_CLASS];
    findings.push(
      finding(base, "manual", "class-not-swappable", `${className} extends ${via}, a class of yours, not ${root}: migrate swaps only a direct base. Make the class that extends ${root.split(" ")[0]} extend ${swap} (from the runtime) instead, if every class under it is sharded this way, or extend ${swap} here.`),
    );
    return unchanged;
  }
  // `ps.Server` keeps its namespace import; a plain or aliased `Server` may lose its import.
  const replaced = Node.isIdentifier(base) ? [base] : [];
  findings.unshift(finding(base, "info", "class-swapped", `${className} now leads its shards: it extends ${SHARDED_CLASS} instead of Server.`));
  return { edits: [{ at: base.getStart(), end: base.getEnd(), insert: SHARDED_CLASS }], replaced, runtimeNames: [SHARDED_CLASS], findings };
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

import { Node, type Identifier, type PropertyAccessExpression, type SourceFile } from "ts-morph";
import { statement, type CodeStyle } from "../code-style.js";
import type { Finding } from "../plan.js";
import type { Edit } from "../text-edits.js";
import { findingAt } from "../findings.js";
import { ROUTER_BINDING } from "../config/wrangler/names.js";
import { partyserverExport } from "./server-class.js";

/** The runtime's stand-in for partyserver's routePartykitRequest (same signature and options). */
export const ROUTE_CALL = "routePartyShard";

export interface WorkerRouting {
  edits: Edit[];
  /** `routePartykitRequest` identifiers replaced (their import may go). */
  replaced: Identifier[];
  findings: Finding[];
}

/**
 * Each `routePartykitRequest(` call in the Worker (through aliases and `ps.routePartykitRequest`)
 * becomes `routePartyShard(`, which answers the router's URLs and passes everything else on.
 */
export function routeWorker(file: SourceFile): WorkerRouting {
  const edits: Edit[] = [];
  const replaced: Identifier[] = [];
  const findings: Finding[] = [];
  for (const call of file.getDescendants().filter(Node.isCallExpression)) {
    const callee = call.getExpression();
    if (partyserverExport(callee) !== "routePartykitRequest") continue;
    edits.push({ at: callee.getStart(), end: callee.getEnd(), insert: ROUTE_CALL });
    if (Node.isIdentifier(callee)) replaced.push(callee);
    findings.push(findingAt(file, callee, "info", "worker-routed", `Requests go through ${ROUTE_CALL}, which answers the router's URLs and passes every other request on to routePartykitRequest with the same options.`));
    findings.push(...jurisdictionFindings(file, call.getArguments()[2]));
  }
  return { edits, replaced, findings };
}

/** routePartykitRequest's options (an object literal), when they name a jurisdiction: the router cannot follow it. */
export function jurisdictionFindings(file: SourceFile, options: Node | undefined): Finding[] {
  const jurisdiction = Node.isObjectLiteralExpression(options) ? options.getProperty("jurisdiction") : undefined;
  if (!jurisdiction) return [];
  // The router and its shards address rooms by name alone: they would reach another object.
  return [findingAt(file, jurisdiction, "manual", "jurisdiction-unsupported", `party-shard's router does not follow a jurisdiction: it and its shards would reach a leader room outside it, another Durable Object than direct clients reach. Drop the jurisdiction, or do not shard this class.`)];
}

/** Whether the file exports PartyShardRouter already (from any module). */
export function exportsRouter(file: SourceFile): boolean {
  return file.getExportDeclarations().some((declaration) => declaration.getNamedExports().some((specifier) => (specifier.getAliasNode() ?? specifier.getNameNode()).getText() === ROUTER_BINDING));
}

/**
 * `export { PartyShardRouter } from "./party-shard-server";` in the Worker's main, after its
 * imports: wrangler finds a bound class only among the main module's exports (it hangs without).
 */
export function exportRouterEdits(file: SourceFile, specifier: string, style: CodeStyle): Edit[] {
  if (exportsRouter(file)) return [];
  const line = statement(style, `export { ${ROUTER_BINDING} } from ${style.quote}${specifier}${style.quote}`);
  const anchor = file.getImportDeclarations().at(-1);
  if (anchor) return [{ at: anchor.getEnd(), insert: `${style.newline}${line}` }];
  return [{ at: 0, insert: `${line}${style.newline}${style.newline}` }];
}

/** Other places that reach the sharded class's rooms without the router: `getServerByName(env.Chat, …)`, `env.Chat.get(…)`. */
export function directUseFindings(file: SourceFile, binding: string): Finding[] {
  return directForwards(file, binding).map((access) =>
    findingAt(file, access, "manual", "binding-used-directly", `This forwards to the ${binding} rooms directly, not through ${ROUTE_CALL}: what is sent this way reaches the leader room without the router and its shards. Route client traffic through ${ROUTE_CALL}; keep this only for server-side calls.`),
  );
}

/** The `env.Chat` of each `getServerByName(env.Chat, …)`, `env.Chat.get(…)`, `.getByName(…)`, `.idFromName(…)` in the file. */
export function directForwards(file: SourceFile, binding: string): PropertyAccessExpression[] {
  return file.getDescendants().filter((node): node is PropertyAccessExpression => {
    if (!Node.isPropertyAccessExpression(node) || node.getName() !== binding) return false;
    const parent = node.getParent();
    return (
      (Node.isCallExpression(parent) && partyserverExport(parent.getExpression()) === "getServerByName" && parent.getArguments()[0] === node) ||
      (Node.isPropertyAccessExpression(parent) && ["get", "getByName", "idFromName"].includes(parent.getName()))
    );
  });
}

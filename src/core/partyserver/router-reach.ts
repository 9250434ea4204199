import { Node, type SourceFile } from "ts-morph";
import { relativeImport } from "../code-style.js";
import { findingAt } from "../findings.js";
import type { Finding } from "../plan.js";
import { kebab, ROUTER_BINDING } from "../config/wrangler/names.js";
import { directForwards, ROUTE_CALL } from "./route-worker.js";
import { importedExport, isRuntimeSpecifier } from "./server-class.js";
import type { WorkerSources } from "./worker-sources.js";

const ROUTER_PATH = `/parties/${kebab(ROUTER_BINDING)}/`;
/** A literal that reads a party URL: "/parties/", `parties`, /^\/parties\/(\w+)/. */
const PARTIES_LITERAL = /(^|\/)parties(\/|$)/;

/** Whether the file uses the runtime's routePartyShard already (a Worker wired by hand, or by a migrate before): called, or handed on (`{ fetch: routePartyShard }`). */
export function usesRoutePartyShard(file: SourceFile): boolean {
  return file.getDescendants().some((node) => (Node.isIdentifier(node) || Node.isPropertyAccessExpression(node)) && !node.getFirstAncestor(Node.isImportDeclaration) && importedExport(node, isRuntimeSpecifier) === ROUTE_CALL);
}

/**
 * For a Worker where nothing sends the router's URLs to routePartyShard once migrate ran (no
 * routePartykitRequest, no routePartyShard, no hono-party middleware): the step that makes them
 * reach it, as one manual finding where it goes. That is the first direct forward to the sharded
 * class's rooms (`getServerByName(env.Chat, …)`, `env.Chat.get(…)`), else the first literal that
 * reads a party URL (a hand-written `/parties/` switch), else main's default export. The step
 * routes only the router's path, so the Worker's own routing of every other URL stays as it is.
 */
export function routerUnreachable(sources: WorkerSources, binding: string, runtimeFile: string): Finding {
  const files = sources.project.getSourceFiles();
  const forward = files.flatMap((file) => directForwards(file, binding))[0];
  const literal = forward ? undefined : files.flatMap((file) => file.getDescendants().filter(readsPartyUrl))[0];
  const node = forward ?? literal ?? sources.main.getDefaultExportSymbol()?.getDeclarations()[0];
  const file = node?.getSourceFile() ?? sources.main;
  const specifier = relativeImport(sources.relative(file), runtimeFile, file.getFullText());
  const step = `\`if (new URL(request.url).pathname.startsWith("${ROUTER_PATH}")) return (await ${ROUTE_CALL}(request, env)) ?? new Response("Not found", { status: 404 });\` (import { ${ROUTE_CALL} } from "${specifier}", and the checks this route makes as its onBeforeConnect/onBeforeRequest options)`;
  const where = forward
    ? `This forwards to the ${binding} rooms itself; before it, add ${step}.`
    : literal
      ? `This reads party URLs itself; before it does, add ${step}.`
      : `At the start of the Worker's fetch, add ${step}; or route with routePartykitRequest or hono-party's partyserverMiddleware, which migrate rewrites.`;
  return findingAt(file, node, "manual", "router-unreachable", `Nothing in the Worker sends the router's URLs (${ROUTER_PATH}<room>) to ${ROUTE_CALL}: after deploy they answer 404, and every client migrate routed there fails. ${where}`);
}

function readsPartyUrl(node: Node): boolean {
  const literal = Node.isStringLiteral(node) || Node.isNoSubstitutionTemplateLiteral(node) || Node.isTemplateHead(node) || Node.isTemplateMiddle(node) || Node.isTemplateTail(node) || Node.isRegularExpressionLiteral(node);
  return literal && PARTIES_LITERAL.test(node.getLiteralText().replaceAll("\\/", "/"));
}

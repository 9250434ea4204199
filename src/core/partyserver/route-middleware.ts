import { Node, type CallExpression, type ObjectLiteralExpression, type SourceFile } from "ts-morph";
import { findingAt } from "../findings.js";
import type { Finding } from "../plan.js";
import type { Edit } from "../text-edits.js";
import { mountFindings } from "./middleware-mount.js";
import { jurisdictionFindings } from "./route-worker.js";
import { importedExport, isRuntimeSpecifier } from "./server-class.js";

const HONO_PARTY = "hono-party";
const MIDDLEWARE = "partyserverMiddleware";
/** The runtime's wrapper around hono-party's middleware factory: `withPartyShard(partyserverMiddleware)(ctx)`. */
export const MIDDLEWARE_WRAPPER = "withPartyShard";

export interface MiddlewareRouting {
  edits: Edit[];
  findings: Finding[];
  /** Middleware calls that send the router's URLs to routePartyShard once migrate ran (wrapped already, or now). */
  routed: number;
}

/**
 * Each call of hono-party's `partyserverMiddleware` (through aliases and namespace imports)
 * becomes `withPartyShard(partyserverMiddleware)(…)`, its arguments untouched: the runtime's
 * wrapper answers the router's URLs with the same options and hands every other request to the
 * app's own middleware. A call wrapped already is checked again for where it is mounted.
 */
export function routeMiddleware(file: SourceFile): MiddlewareRouting {
  const edits: Edit[] = [];
  const findings: Finding[] = [];
  let routed = 0;
  for (const call of file.getDescendants().filter(Node.isCallExpression)) {
    const callee = call.getExpression();
    if (isHonoParty(callee)) {
      edits.push({ at: callee.getStart(), insert: `${MIDDLEWARE_WRAPPER}(` }, { at: callee.getEnd(), insert: ")" });
      findings.push(findingAt(file, callee, "info", "middleware-routed", `Requests go through ${MIDDLEWARE_WRAPPER}(${MIDDLEWARE}), which answers the router's URLs with the same options (your hooks get the Hono context, as hono-party gives it) and passes every other request on to ${MIDDLEWARE}.`));
    } else if (!(Node.isCallExpression(callee) && importedExport(callee.getExpression(), isRuntimeSpecifier) === MIDDLEWARE_WRAPPER)) {
      continue;
    }
    routed++;
    const options = middlewareOptions(call);
    findings.push(...jurisdictionFindings(file, options), ...mountFindings(file, call, prefixOf(call, options)));
  }
  return { edits, findings, routed };
}

function isHonoParty(expression: Node): boolean {
  return importedExport(expression, (specifier) => specifier === HONO_PARTY) === MIDDLEWARE;
}

/** `options` of `partyserverMiddleware({ options: { … } })`, when written there. */
function middlewareOptions(call: CallExpression): Node | undefined {
  const context = call.getArguments()[0];
  const options = Node.isObjectLiteralExpression(context) ? context.getProperty("options") : undefined;
  return Node.isPropertyAssignment(options) ? options.getInitializer() : undefined;
}

/** The party URLs' prefix: "parties" unless the options say otherwise; undefined when they cannot be read. */
function prefixOf(call: CallExpression, options: Node | undefined): string | undefined {
  const context = call.getArguments()[0];
  if (context === undefined) return "parties";
  if (!readable(context)) return undefined;
  if (context.getProperty("options") === undefined) return "parties";
  if (!readable(options)) return undefined;
  const prefix = options.getProperty("prefix");
  if (prefix === undefined) return "parties";
  const value = Node.isPropertyAssignment(prefix) ? prefix.getInitializer() : undefined;
  return Node.isStringLiteral(value) || Node.isNoSubstitutionTemplateLiteral(value) ? value.getLiteralText() || "parties" : undefined;
}

/** An object literal whose properties are all written out (a spread may hold any of them). */
function readable(node: Node | undefined): node is ObjectLiteralExpression {
  return Node.isObjectLiteralExpression(node) && !node.getProperties().some(Node.isSpreadAssignment);
}

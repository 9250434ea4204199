import { Node, type CallExpression, type SourceFile } from "ts-morph";
import { escapeRegExp } from "../escape-regexp.js";
import { findingAt } from "../findings.js";
import type { Finding } from "../plan.js";
import { kebab, ROUTER_BINDING } from "../config/wrangler/names.js";

const ROUTER_PARTY = kebab(ROUTER_BINDING);
/** Hono's methods that mount a handler for one HTTP method (`all` and `use` take every method). */
const ONE_METHOD = ["get", "post", "put", "delete", "patch", "options"];

/**
 * Whether the router's URLs reach a party middleware where the app mounts it: `app.use(path, mw)`,
 * `app.all(path, mw)`, `app.get(path, mw)`, `app.on(methods, paths, mw)`. The router takes sockets
 * (GET) and writes (POST) at `/<prefix>/party-shard-router/<room>`: a literal path that cannot
 * match it, or methods without GET or POST, is a manual finding. A path or method it cannot read
 * (a variable, a regex parameter, no path where Hono reuses the chain's last one) is left alone.
 * A sub-app's path is matched against the URL with leading prefix segments dropped too, as
 * `app.route("/api", sub)` and `basePath` take them off before the sub-app's own paths.
 */
export function mountFindings(file: SourceFile, middleware: CallExpression, prefix: string | undefined): Finding[] {
  const mount = middleware.getParent();
  if (!Node.isCallExpression(mount)) return [];
  const callee = mount.getExpression();
  const args = mount.getArguments();
  const at = args.indexOf(middleware);
  if (!Node.isPropertyAccessExpression(callee) || at < 0) return [];
  const method = callee.getName();
  let methods: string[] | undefined;
  let path: Node | undefined;
  if (method === "on") [methods, path] = [literals(args[0])?.map((each) => each.toLowerCase()), args[1]];
  else if (method === "use" || method === "all" || ONE_METHOD.includes(method)) [methods, path] = [ONE_METHOD.includes(method) ? [method] : ["get", "post"], at > 0 ? args[0] : undefined];
  else return [];
  const findings: Finding[] = [];
  const missing = methods && ["get", "post"].filter((wanted) => !methods.includes(wanted));
  if (missing && missing.length > 0) {
    findings.push(findingAt(file, callee.getNameNode(), "manual", "middleware-mount", `The party middleware is mounted for ${methods!.map((each) => each.toUpperCase()).join(", ")} only: the router takes sockets (GET) and writes (POST) at /${prefix ?? "<prefix>"}/${ROUTER_PARTY}/<room>, so ${missing.map((each) => each.toUpperCase()).join(" and ")} there would answer 404. Mount it with use() or all().`));
  }
  // `app.use(mw)` is every path; `app.get(mw)` is the chain's last path, which is not read here.
  const paths = path === undefined ? (method === "use" ? ["*"] : undefined) : literals(path);
  if (prefix === undefined || paths === undefined) return findings;
  const matched = paths.map((each) => matches(each, prefix));
  if (matched.includes(true) || matched.includes(undefined)) return findings;
  const shown = paths.map((each) => JSON.stringify(each)).join(", ");
  findings.push(findingAt(file, path ?? callee.getNameNode(), "manual", "middleware-mount", `The party middleware is mounted on ${shown}, which the router's URLs (/${prefix}/${ROUTER_PARTY}/<room>) do not match: they would answer 404 after deploy, and every client migrate routed there fails. Mount it on "*", or on a path that takes /${prefix}/${ROUTER_PARTY}/*.`));
  return findings;
}

/** The strings of a string literal or an array literal of them; undefined for anything else. */
function literals(node: Node | undefined): string[] | undefined {
  const elements = Node.isArrayLiteralExpression(node) ? node.getElements() : [node];
  const texts = elements.map((element) => (Node.isStringLiteral(element) || Node.isNoSubstitutionTemplateLiteral(element) ? element.getLiteralText() : undefined));
  return texts.every((text): text is string => text !== undefined) ? texts : undefined;
}

/**
 * Whether Hono's path `pattern` (`*`, `:param`, `:param?`) takes a router URL under `prefix`, or
 * that URL less some of its prefix's leading segments (a sub-app's view); undefined for a pattern
 * with a regex parameter.
 */
function matches(pattern: string, prefix: string): boolean | undefined {
  if (/[{}]/.test(pattern)) return undefined;
  const source = pattern
    .split(/(\*|:[\w$]+\??)/)
    .map((part, i) => (i % 2 === 0 ? escapeRegExp(part) : part === "*" ? ".*" : part.endsWith("?") ? "[^/]*" : "[^/]+"))
    .join("");
  const regex = new RegExp(`^${source}$`);
  const head = prefix.split("/").filter(Boolean);
  return Array.from({ length: head.length + 1 }, (_, dropped) => ["", ...head.slice(dropped), ROUTER_PARTY, "room"].join("/")).some((url) => regex.test(url));
}

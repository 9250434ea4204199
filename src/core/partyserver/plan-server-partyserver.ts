import path from "node:path";
import type { Identifier, SourceFile } from "ts-morph";
import { importEdits } from "../add-import.js";
import { detectCodeStyle, relativeImport } from "../code-style.js";
import type { FileChange, Finding } from "../plan.js";
import { applyEdits, type Edit } from "../text-edits.js";
import type { ChosenClass } from "./choose-class.js";
import { patchClass } from "./patch-class.js";
import { pruneImportEdits } from "./prune-imports.js";
import { MIDDLEWARE_WRAPPER, routeMiddleware } from "./route-middleware.js";
import { usesRoutePartyShard, routerUnreachable } from "./router-reach.js";
import { directUseFindings, ROUTE_CALL, routeWorker } from "./route-worker.js";
import { isRuntimeSpecifier, PARTYSERVER } from "./server-class.js";
import { VIRTUAL_ROOT, type WorkerSources } from "./worker-sources.js";

interface FileWork {
  edits: Edit[];
  replaced: Identifier[];
  /** What the file must import from the runtime. */
  names: Set<string>;
}

/**
 * The server half of migrate on PartyServer: the sharded class extends Sharded (or
 * shardedServer(YServer)), and the Worker (main and the modules it reaches) routes through
 * routePartyShard, each file importing them from the runtime at `runtimeFile`. Pure: reads the
 * parsed sources, returns changes and findings with root-relative locations.
 */
export function planServerPartyServer(sources: WorkerSources, chosen: ChosenClass, runtimeFile: string): { changes: FileChange[]; findings: Finding[] } {
  const work = new Map<SourceFile, FileWork>();
  const of = (file: SourceFile) => work.get(file) ?? work.set(file, { edits: [], replaced: [], names: new Set() }).get(file)!;
  const findings: Finding[] = [];

  const classes = sources.project.getSourceFiles().flatMap((file) => file.getClasses());
  const patch = patchClass(chosen.cls, chosen.binding.className, classes);
  findings.push(...patch.findings);
  const classWork = of(patch.file);
  classWork.edits.push(...patch.edits);
  classWork.replaced.push(...patch.replaced);
  for (const name of patch.runtimeNames) classWork.names.add(name);

  // Every module of the Worker, not only main: a fetch handler main imports routes as much as main's own.
  let reached = false;
  for (const file of sources.project.getSourceFiles()) {
    const routing = routeWorker(file);
    const middleware = routeMiddleware(file);
    findings.push(...routing.findings, ...middleware.findings, ...directUseFindings(file, chosen.binding.name));
    reached ||= routing.edits.length > 0 || middleware.routed > 0 || usesRoutePartyShard(file);
    if (routing.edits.length > 0) {
      of(file).edits.push(...routing.edits);
      of(file).replaced.push(...routing.replaced);
      of(file).names.add(ROUTE_CALL);
    }
    if (middleware.edits.length > 0) {
      of(file).edits.push(...middleware.edits);
      of(file).names.add(MIDDLEWARE_WRAPPER);
    }
  }
  // Never a green check while the router's URLs would answer 404.
  if (!reached) findings.push(routerUnreachable(sources, chosen.binding.name, runtimeFile));

  const changes: FileChange[] = [];
  for (const [file, { edits, replaced, names }] of work) {
    if (edits.length === 0) continue;
    const before = file.getFullText();
    const relative = sources.relative(file);
    const replacedNames = new Set(replaced.map((identifier) => identifier.getText()));
    // Three passes, each on the text the one before left (ts-morph forgets nodes on each edit): the
    // rewrites, the runtime's import (after the file's imports), and last the partyserver names no
    // longer used, so a declaration that goes whole leaves the runtime's import in its place.
    file.replaceWithText(applyEdits(before, edits));
    const specifier = relativeImport(relative, runtimeFile, before);
    const isModule = (declaration: { getModuleSpecifierValue(): string }) => isRuntimeSpecifier(declaration.getModuleSpecifierValue());
    file.replaceWithText(applyEdits(file.getFullText(), importEdits(file, { names: [...names], specifier, isModule }, detectCodeStyle(before))));
    const after = applyEdits(file.getFullText(), pruneImportEdits(file, PARTYSERVER, replacedNames));
    file.replaceWithText(before);
    if (after !== before) changes.push({ path: relative, before, after });
  }
  const located = findings.map((finding) => (finding.location ? { ...finding, location: { ...finding.location, file: path.posix.relative(VIRTUAL_ROOT, finding.location.file) } } : finding));
  return { changes, findings: located.sort(byLocation) };
}

function byLocation(a: Finding, b: Finding): number {
  return (a.location?.file ?? "").localeCompare(b.location?.file ?? "") || (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0);
}

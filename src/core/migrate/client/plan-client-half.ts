import path from "node:path";
import { generatedFileChange, readTarget } from "../../generated-file.js";
import { chooseRuntimeMode, vendoredChanges } from "../../runtime-files.js";
import { located, type ClientHalf } from "../join-halves.js";
import { readSourceText, type ProjectReader, type ReadFile } from "../../read-file.js";
import type { FileChange, Finding, OnProgress } from "../../plan.js";
import { missingPartysocket } from "../missing-dependency.js";
import { readManifest } from "../../manifest.js";
import { clientScope } from "./client-scope.js";
import { joinComponentChanges, locateInComponent, sendsOutsideBlock } from "./component-sources.js";
import { loadClientProject } from "./load-client-project.js";
import { planClient, type ClientTarget } from "./plan-client.js";
import { renderHelper } from "./render-helper.js";
import { isInside } from "./walk-sources.js";
import { CLIENT_PACKAGES } from "../../versions/supported.js";
import { versionFindings } from "../../versions/version-findings.js";

export interface ClientHalfOptions {
  force: boolean;
  /** Folders (absolute) to look for client code in, instead of the whole repository around the config. */
  clientDirs?: string[];
  vendor?: boolean;
  onProgress?: OnProgress;
}

/**
 * The client half of migrate, on either platform: sockets and sends in the repository around
 * the config (`configRoot`), the helper module each package needs, and a finding for each package
 * that imports partysocket without listing it. Paths are relative to `scopeRoot`, the repository.
 * `serverFiles` (relative to `configRoot`) are server code, never read as clients.
 */
export async function planClientHalf(configRoot: string, serverFiles: string[], target: ClientTarget, reader: ProjectReader, options: ClientHalfOptions): Promise<ClientHalf> {
  const { read, disk } = reader;
  const realRoot = disk.realpath(configRoot);
  const scope = clientScope(disk, realRoot, options.clientDirs);
  const client = loadClientProject(disk, scope, new Set(serverFiles.map((file) => path.resolve(realRoot, file))), options.onProgress);
  const clientPlan = planClient(client, target, options.onProgress);

  const relative = (file: string) => path.relative(scope.root, file).split(path.sep).join("/");
  // Edits to components' script blocks land in the components.
  const changes: FileChange[] = joinComponentChanges(client.components, clientPlan.changes).map(({ file, before, after }) => ({ path: relative(file), before, after }));
  // A file outside the config's folder (a helper beside a sibling client) is read as the project reader reads.
  const readInScope: ReadFile = async (file) => {
    const absolute = path.resolve(scope.root, file);
    return isInside(realRoot, absolute) ? read(path.relative(realRoot, absolute)) : readSourceText(disk, absolute, file);
  };
  const inScope = { ...reader, read: readInScope };
  const importers: string[] = [];
  const unusedCopies: Finding[] = [];
  for (const helperFile of clientPlan.helperFiles.map(relative)) {
    const mode = chooseRuntimeMode(options.vendor, await readTarget(helperFile, readInScope));
    const helper = await generatedFileChange(helperFile, renderHelper({ routerParty: target.routerParty, mode }, reader.own), readInScope, options.force);
    if (helper) changes.push(helper);
    const vendored = await vendoredChanges("client", helperFile, mode, inScope, options.force);
    changes.push(...vendored.changes);
    unusedCopies.push(...vendored.findings);
    if (mode === "package") importers.push(helperFile);
  }
  // Each package whose code imports partysocket must list it, unless the repository's root package does (hoisted).
  const rootManifest = readManifest(disk, scope.root);
  const rootListsIt = "partysocket" in { ...rootManifest?.dependencies, ...rootManifest?.devDependencies };
  const socketPackages = new Set(
    client.groups.flatMap((group) => group.candidates.filter((file) => /from\s+["']partysocket/.test(group.project.getSourceFileOrThrow(file).getFullText())).map(client.packageOf)),
  );
  const missing: Finding[] = [];
  for (const dir of socketPackages) {
    // The version the package runs, even where the root lists it: a workspace may lock its own.
    missing.push(...versionFindings(disk, scope.root, dir, CLIENT_PACKAGES));
    if (rootListsIt && dir !== scope.root) continue;
    const inPackage = (file: string) => relative(path.join(dir, file));
    const finding = await missingPartysocket(disk, dir, (file) => readInScope(inPackage(file)), true);
    if (finding) missing.push(located(finding, inPackage));
  }
  return {
    scopeRoot: scope.root,
    rebase: (file: string) => relative(path.resolve(realRoot, file)),
    reader: inScope,
    changes,
    findings: [
      ...clientPlan.findings.map((finding) => located(locateInComponent(client.components, finding), relative)),
      ...sendsOutsideBlock(client.components, clientPlan.routedSockets).map((finding) => located(finding, relative)),
      ...missing,
      ...unusedCopies,
    ],
    importers,
  };
}

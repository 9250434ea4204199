import { readFileSync, realpathSync } from "node:fs";
import path from "node:path";
import { PartyShardError } from "../../errors.js";
import type { LoadedConfig } from "../config/load-config.js";
import { decodeSource, describeInvalid } from "../decode-source.js";
import { generatedFileChange } from "../generated-file.js";
import type { ReadFile } from "../read-file.js";
import type { FileChange, Finding, OnProgress, Plan } from "../plan.js";
import { clientScope, readManifest } from "./client/client-scope.js";
import { loadClientProject } from "./client/load-client-project.js";
import { planClient, type WritesMode } from "./client/plan-client.js";
import { renderHelper } from "./client/render-helper.js";
import { isInside } from "./client/walk-sources.js";
import { findRouter } from "./find-router.js";
import { missingPartysocket } from "./missing-dependency.js";
import { GLUE_FILE_NAME } from "./server/render-glue.js";
import { planServer } from "./plan-server.js";

export interface MigrateOptions {
  force: boolean;
  /** Folders (absolute) to look for client code in, instead of the whole repository around the config. */
  clientDirs?: string[];
  /** How routed sockets write (`--writes`): sendViaRouter (default) or their own send, relayed by their shard. */
  writes?: WritesMode;
  /** Called as client files are read, parsed and analysed. */
  onProgress?: OnProgress;
}

/**
 * Everything `migrate` would change, server half and client half, as one plan. Reads the
 * project; writes nothing. Clients are looked for in the whole repository the config lives in
 * (a `client/` beside `server/`, workspace packages), so the plan's root is that repository's.
 */
export async function planMigrate(loaded: LoadedConfig, read: ReadFile, options: MigrateOptions): Promise<Plan> {
  const configRoot = realpathSync(loaded.root);
  const setup = await findRouter(loaded, read);
  const server = await planServer(setup, read, options.force);

  // Party files are server code: their `connection.send` is never a client write.
  const serverFiles = [loaded.config.main, ...Object.values(loaded.config.parties), path.posix.join(path.posix.dirname(setup.routerFile), GLUE_FILE_NAME)];
  const scope = clientScope(configRoot, options.clientDirs);
  const client = loadClientProject(scope, new Set(serverFiles.map((file) => path.resolve(configRoot, file))), options.onProgress);
  const clientPlan = planClient(client, { ...setup, writes: options.writes }, options.onProgress);

  const relative = (file: string) => path.relative(scope.root, file).split(path.sep).join("/");
  // Server paths are relative to the config's folder; the plan's are relative to the repository.
  const rebase = (file: string) => relative(path.resolve(configRoot, file));
  const changes: FileChange[] = [
    ...server.changes.map((change) => ({ ...change, path: rebase(change.path) })),
    ...clientPlan.changes.map(({ file, before, after }) => ({ path: relative(file), before, after })),
  ];
  const readInScope: ReadFile = (file) => {
    const absolute = path.resolve(scope.root, file);
    return isInside(configRoot, absolute) ? read(path.relative(configRoot, absolute)) : readOutsideConfig(absolute, file);
  };
  for (const helperFile of clientPlan.helperFiles) {
    const helper = await generatedFileChange(relative(helperFile), renderHelper(setup), readInScope, options.force);
    if (helper) changes.push(helper);
  }
  const located = (finding: Finding, where: (file: string) => string): Finding => (finding.location ? { ...finding, location: { ...finding.location, file: where(finding.location.file) } } : finding);
  // Each package whose code imports partysocket must list it, unless the repository's root package does (hoisted).
  const rootManifest = readManifest(scope.root);
  const rootListsIt = "partysocket" in { ...rootManifest?.dependencies, ...rootManifest?.devDependencies };
  const socketPackages = new Set(
    client.groups.flatMap((group) => group.candidates.filter((file) => /from\s+["']partysocket/.test(group.project.getSourceFileOrThrow(file).getFullText())).map(client.packageOf)),
  );
  const missing: Finding[] = [];
  for (const dir of socketPackages) {
    if (rootListsIt && dir !== scope.root) continue;
    const inPackage = (file: string) => relative(path.join(dir, file));
    const finding = await missingPartysocket(dir, (file) => readInScope(inPackage(file)), true);
    if (finding) missing.push(located(finding, inPackage));
  }
  return {
    root: scope.root === configRoot ? loaded.root : scope.root,
    changes,
    findings: [...server.findings.map((finding) => located(finding, rebase)), ...clientPlan.findings.map((finding) => located(finding, relative)), ...missing],
  };
}

/** A file outside the config's folder (a helper beside a sibling client), read as the project reader reads: UTF-8 or refused. */
async function readOutsideConfig(file: string, relative: string): Promise<string | null> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "ENOTDIR") return null;
    throw error;
  }
  const decoded = decodeSource(bytes);
  if (!("invalid" in decoded)) return decoded.text;
  throw new PartyShardError(`${describeInvalid(decoded.invalid)}: party-shard reads and writes UTF-8 only, and would destroy this file's other characters.`, {
    location: { file: relative, line: decoded.invalid.line, col: decoded.invalid.col },
  });
}

import path from "node:path";
import type { LoadedConfig } from "../config/load-config.js";
import { generatedFileChange } from "../generated-file.js";
import type { ReadFile } from "../read-file.js";
import type { FileChange, Finding, OnProgress, Plan } from "../plan.js";
import { loadClientProject } from "./client/load-client-project.js";
import { planClient } from "./client/plan-client.js";
import { renderHelper } from "./client/render-helper.js";
import { findRouter } from "./find-router.js";
import { missingPartysocket } from "./missing-dependency.js";
import { GLUE_FILE_NAME } from "./server/render-glue.js";
import { planServer } from "./plan-server.js";

export interface MigrateOptions {
  force: boolean;
  /** Called as client files are read, parsed and analysed. */
  onProgress?: OnProgress;
}

/**
 * Everything `migrate` would change, server half and client half, as one plan. Reads the
 * project; writes nothing.
 */
export async function planMigrate(loaded: LoadedConfig, read: ReadFile, options: MigrateOptions): Promise<Plan> {
  const { root } = loaded;
  const setup = await findRouter(loaded, read);
  const server = await planServer(setup, read, options.force);

  // Party files are server code: their `connection.send` is never a client write.
  const serverFiles = [loaded.config.main, ...Object.values(loaded.config.parties), path.posix.join(path.posix.dirname(setup.routerFile), GLUE_FILE_NAME)];
  const client = loadClientProject(root, new Set(serverFiles.map((file) => path.resolve(root, file))), options.onProgress);
  const clientPlan = planClient(client, setup, options.onProgress);

  const relative = (file: string) => path.relative(root, file).split(path.sep).join("/");
  const changes: FileChange[] = [...server.changes, ...clientPlan.changes.map(({ file, before, after }) => ({ path: relative(file), before, after }))];
  if (clientPlan.helperFile) {
    const helper = await generatedFileChange(relative(clientPlan.helperFile), renderHelper(setup), read, options.force);
    if (helper) changes.push(helper);
  }
  const clientFindings: Finding[] = clientPlan.findings.map((finding) =>
    finding.location ? { ...finding, location: { ...finding.location, file: relative(finding.location.file) } } : finding,
  );
  const usesPartysocket = client.candidates.some((file) => /from\s+["']partysocket/.test(client.project.getSourceFileOrThrow(file).getFullText()));
  const missing = await missingPartysocket(root, read, usesPartysocket);
  return { root, changes, findings: [...server.findings, ...clientFindings, ...(missing ? [missing] : [])] };
}

import type { FileChange, Finding, Plan } from "../plan.js";
import type { ProjectReader } from "../read-file.js";
import { withRuntimeDependency } from "../runtime-dependency.js";
import { runtimeModeOf } from "../runtime-files.js";

/** What a half of migrate plans; `importers` are its generated files that import the runtime package. */
export interface ServerHalf {
  changes: FileChange[];
  findings: Finding[];
  importers: string[];
}

export interface ClientHalf extends ServerHalf {
  /** The repository the clients were looked for in, absolute: the plan's root. */
  scopeRoot: string;
  /** Makes a path relative to the config's folder relative to the repository, as the plan's paths are. */
  rebase(file: string): string;
  /** Reads repository-relative paths. */
  reader: ProjectReader;
}

/**
 * One plan of both halves, on the client half's root: server paths rebased, a vendored module
 * both halves copy into the same folder written once, and party-shard added to each package
 * whose generated files import it.
 */
export async function joinHalves(server: ServerHalf, client: ClientHalf, root: string): Promise<Plan> {
  const changes = new Map<string, FileChange>();
  for (const change of [...server.changes.map((change) => ({ ...change, path: client.rebase(change.path) })), ...client.changes]) {
    const same = changes.get(change.path);
    if (same && same.after !== change.after) throw new Error(`party-shard planned two different texts for ${change.path}`);
    changes.set(change.path, change);
  }
  const dependency = await withRuntimeDependency([...changes.values()], [...server.importers.map(client.rebase), ...client.importers], client.reader, client.scopeRoot);
  return {
    root,
    changes: dependency.changes,
    findings: [...server.findings.map((finding) => located(finding, client.rebase)), ...client.findings, ...dependency.findings],
  };
}

/** true when the project's server file vendors the runtime, so that new client helpers do too; else undefined (each file as it is). */
export function projectVendors(serverFile: string | null): true | undefined {
  return runtimeModeOf(serverFile) === "vendor" || undefined;
}

export function located(finding: Finding, where: (file: string) => string): Finding {
  return finding.location ? { ...finding, location: { ...finding.location, file: where(finding.location.file) } } : finding;
}

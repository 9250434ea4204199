import { PartyShardError } from "../../errors.js";
import { detectCodeStyle, relativeImport } from "../code-style.js";
import { addRouterToWrangler } from "../config/wrangler/add-router.js";
import type { LoadedWrangler } from "../config/wrangler/loaded-wrangler.js";
import { generatedFileChange, readTarget } from "../generated-file.js";
import { DEFAULT_SHARD_TARGET, DEFAULT_SHARDS } from "../shard-count.js";
import type { FileChange, Finding, InitPlan } from "../plan.js";
import type { ProjectReader, ReadFile } from "../read-file.js";
import { applyEdits } from "../text-edits.js";
import { chooseClass, classCandidates } from "./choose-class.js";
import { runtimeFileFor } from "./find-setup.js";
import { ROUTER_BINDING } from "../config/wrangler/names.js";
import { readPartyServerRuntime, renderPartyServerRuntime } from "./render-runtime.js";
import { withRuntimeDependency } from "../runtime-dependency.js";
import { SERVER_PACKAGES } from "../versions/supported.js";
import { versionFindings } from "../versions/version-findings.js";
import { chooseRuntimeMode, vendoredChanges } from "../runtime-files.js";
import { exportRouterEdits } from "./route-worker.js";
import { serverLineage } from "./server-class.js";
import { loadWorkerSources } from "./worker-sources.js";

export interface InitPartyServerOptions {
  /** `--party`: a binding's name, its URL name, or the file its class is in (absolute or root-relative). */
  party?: string;
  /** Shard count; by default the existing runtime's, or DEFAULT_SHARDS. */
  shards?: number;
  /** Clients a shard takes before a room opens the next; by default the existing runtime's, or DEFAULT_SHARD_TARGET. */
  shardTarget?: number;
  force: boolean;
  /** `--vendor`/`--no-vendor`: the runtime copied into the project, or imported from the package; by default as it is now. */
  vendor?: boolean;
}

/**
 * What `init` would change on a PartyServer project: the router's binding and migration in the
 * wrangler config, the runtime beside the sharded class, and the router's export in the
 * Worker's main (wrangler finds a bound class only there). Writes nothing.
 */
export async function planInitPartyServer(loaded: LoadedWrangler, options: InitPartyServerOptions, reader: ProjectReader): Promise<InitPlan> {
  const { read } = reader;
  const sources = await loadWorkerSources(loaded, read);
  const chosen = chooseClass(loaded, sources, options.party);
  const runtimeFile = runtimeFileFor(chosen.file);
  const current = await readTarget(runtimeFile, read);
  const existing = current === null ? undefined : readPartyServerRuntime(current);
  if (existing && existing.shardedBinding !== chosen.binding.name && !options.force) {
    throw new PartyShardError(`${runtimeFile} already shards the binding ${existing.shardedBinding}; one runtime shards one class.`, {
      location: { file: runtimeFile },
      hint: `Pass --party ${existing.shardedBinding} to keep it, or --force to shard ${chosen.binding.name} instead (then undo the first class's migrate by hand).`,
    });
  }

  const changes: FileChange[] = [];
  const config = addRouterToWrangler(loaded);
  if (config !== loaded.text) changes.push({ path: loaded.file, before: loaded.text, after: config });
  const shardCount = options.shards ?? existing?.shardCount ?? DEFAULT_SHARDS;
  const shardTarget = options.shardTarget ?? existing?.shardTarget ?? DEFAULT_SHARD_TARGET;
  const mode = chooseRuntimeMode(options.vendor, current);
  const runtime = await generatedFileChange(runtimeFile, renderPartyServerRuntime({ shardedBinding: chosen.binding.name, shardCount, shardTarget, mode }, reader.own), read, options.force);
  if (runtime) changes.push(runtime);
  const vendored = await vendoredChanges("partyserver", runtimeFile, mode, reader, options.force);
  changes.push(...vendored.changes);
  const importers = mode === "package" ? [runtimeFile] : [];

  const mainText = sources.main.getFullText();
  const exportLine = exportRouterEdits(sources.main, relativeImport(loaded.main, runtimeFile, mainText), detectCodeStyle(mainText));
  if (exportLine.length > 0) changes.push({ path: loaded.main, before: mainText, after: applyEdits(mainText, exportLine) });

  const planned = await withRuntimeDependency(changes, importers, reader, loaded.root);
  const findings: Finding[] =
    planned.changes.length === 0 ? [{ level: "info", code: "up-to-date", message: `The ${ROUTER_BINDING} router for the ${chosen.binding.name} class is already set up.` }] : [...planned.findings, ...vendored.findings];
  findings.push(...versionFindings(reader.disk, loaded.root, loaded.root, SERVER_PACKAGES.partyserver));
  const lineage = serverLineage(chosen.cls);
  const setup = { party: chosen.binding.name, file: chosen.file, shards: shardCount };
  return { root: loaded.root, changes: planned.changes, findings, setup, migrated: lineage.extendsServer && lineage.sharded };
}

/** The shard count of the runtime init would update, if there is one (for the question's default); init checks the rest. */
export async function currentShardCount(loaded: LoadedWrangler, party: string | undefined, read: ReadFile): Promise<number | undefined> {
  try {
    const chosen = chooseClass(loaded, await loadWorkerSources(loaded, read), party);
    const text = await read(runtimeFileFor(chosen.file));
    return text === null ? undefined : readPartyServerRuntime(text)?.shardCount;
  } catch {
    return undefined;
  }
}

/** The bindings init could shard (their names), for the question an interactive init asks when there are several. */
export async function shardableBindings(loaded: LoadedWrangler, read: ReadFile): Promise<string[]> {
  return classCandidates(loaded, await loadWorkerSources(loaded, read)).map((candidate) => candidate.binding.name);
}

/** The class init would shard (throws as init would when it cannot tell), for the line init prints before it asks anything. */
export async function classToShard(loaded: LoadedWrangler, party: string | undefined, read: ReadFile): Promise<{ binding: string; className: string; file: string }> {
  const chosen = chooseClass(loaded, await loadWorkerSources(loaded, read), party);
  return { binding: chosen.binding.name, className: chosen.binding.className, file: chosen.file };
}

import path from "node:path";
import { PartyShardError } from "../../errors.js";
import type { LoadedWrangler } from "../config/wrangler/loaded-wrangler.js";
import type { ReadFile } from "../read-file.js";
import type { ChosenClass } from "./choose-class.js";
import { readPartyServerRuntime, RUNTIME_FILE_NAME } from "./render-runtime.js";
import { exportedClasses } from "./server-class.js";
import type { WorkerSources } from "./worker-sources.js";

/** What `init` set up on a PartyServer project: the sharded class and the runtime beside it. */
export interface PartyServerSetup {
  chosen: ChosenClass;
  /** Root-relative path of the generated runtime. */
  runtimeFile: string;
  shardCount: number;
}

/** The runtime file init writes for a class in `classFile`. */
export const runtimeFileFor = (classFile: string) => path.posix.join(path.posix.dirname(classFile), RUNTIME_FILE_NAME);

/**
 * Reads back what init set up: the binding whose class has, beside its source file, a runtime
 * generated for that binding. Undefined when init has not run.
 */
export async function findSetupIfAny(loaded: LoadedWrangler, sources: WorkerSources, read: ReadFile): Promise<PartyServerSetup | undefined> {
  const classes = exportedClasses(sources.main);
  for (const binding of loaded.bindings) {
    const cls = classes.get(binding.className);
    if (!cls || binding.scriptName) continue;
    const file = sources.relative(cls.getSourceFile());
    const runtimeFile = runtimeFileFor(file);
    const text = await read(runtimeFile).catch(() => null);
    const runtime = text === null ? undefined : readPartyServerRuntime(text);
    if (runtime?.shardedBinding === binding.name) return { chosen: { binding, cls, file }, runtimeFile, shardCount: runtime.shardCount };
  }
  return undefined;
}

/** Like findSetupIfAny, for commands that need init to have run (exit 2 otherwise). */
export async function findSetup(loaded: LoadedWrangler, sources: WorkerSources, read: ReadFile): Promise<PartyServerSetup> {
  const setup = await findSetupIfAny(loaded, sources, read);
  if (setup) return setup;
  throw new PartyShardError(`No party-shard runtime beside any class bound in ${loaded.file}: run \`npx party-shard init\` first.`, {
    location: { file: loaded.file },
  });
}

import { PartyShardError } from "../errors.js";
import type { ReadFile } from "./init/plan-init.js";
import { isGeneratedFile } from "./init/render-router.js";
import type { FileChange } from "./plan.js";
import { editedSinceGenerated } from "./render-template.js";

/**
 * The change that makes `path` hold `contents`: none when it already does, a create when it
 * is missing, an upgrade when party-shard wrote it and nobody edited it since, and a replace of
 * an edited or foreign file only with --force.
 */
export async function generatedFileChange(path: string, contents: string, read: ReadFile, force: boolean): Promise<FileChange | undefined> {
  const current = await read(path);
  if (current === contents) return undefined;
  const ours = current !== null && isGeneratedFile(current);
  if (current !== null && !force && (!ours || editedSinceGenerated(current))) {
    const what = ours ? "was edited since party-shard generated it" : "already exists and differs from what party-shard would write";
    throw new PartyShardError(`${path} ${what}.`, {
      location: { file: path },
      hint: "Pass --force to replace it.",
    });
  }
  return { path, before: current, after: contents };
}

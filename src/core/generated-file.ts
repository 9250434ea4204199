import { PartyShardError } from "../errors.js";
import type { ReadFile } from "./init/plan-init.js";
import { isGeneratedFile } from "./init/render-router.js";
import type { FileChange } from "./plan.js";

/**
 * The change that makes `path` hold `contents`: none when it already does, a create when it
 * is missing, an upgrade when party-shard wrote it, and a replace of any other file only with
 * --force, since it is the user's.
 */
export async function generatedFileChange(path: string, contents: string, read: ReadFile, force: boolean): Promise<FileChange | undefined> {
  const current = await read(path);
  if (current === contents) return undefined;
  if (current !== null && !force && !isGeneratedFile(current)) {
    throw new PartyShardError(`${path} already exists and differs from what party-shard would write.`, {
      location: { file: path },
      hint: "Pass --force to replace it.",
    });
  }
  return { path, before: current, after: contents };
}

import { PartyShardError } from "../errors.js";
import type { ReadFile } from "./init/plan-init.js";
import type { FileChange } from "./plan.js";

/**
 * The change that makes `path` hold `contents`: none when it already does, a create when it
 * is missing, and a replace only with --force, since the user may have edited it.
 */
export async function generatedFileChange(path: string, contents: string, read: ReadFile, force: boolean): Promise<FileChange | undefined> {
  const current = await read(path);
  if (current === contents) return undefined;
  if (current !== null && !force) {
    throw new PartyShardError(`${path} already exists and differs from what party-shard would write.`, {
      location: { file: path },
      hint: "Pass --force to replace it.",
    });
  }
  return { path, before: current, after: contents };
}

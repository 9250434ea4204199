import { PartyShardError } from "../errors.js";
import type { ReadFile } from "./read-file.js";
import { isGeneratedFile } from "./init/render-router.js";
import type { FileChange } from "./plan.js";
import { editedSinceGenerated } from "./render-template.js";

// Folders that belong to tools, not to the project's source: party-shard writes nothing there.
const TOOL_FOLDERS = new Set([".git", "node_modules"]);

/**
 * The change that makes `path` hold `contents`: none when it already does, a create when it
 * is missing, an upgrade when party-shard wrote it and nobody edited it since, and a replace of
 * an edited one only with --force. A file party-shard did not generate is never replaced.
 */
export async function generatedFileChange(path: string, contents: string, read: ReadFile, force: boolean): Promise<FileChange | undefined> {
  refuseToolFolder(path);
  const current = await readTarget(path, read);
  if (current === contents) return undefined;
  if (current !== null && !isGeneratedFile(current)) {
    throw new PartyShardError(`${path} already exists and party-shard did not generate it, so it is never replaced, not even with --force.`, {
      location: { file: path },
      hint: "Move or rename that file, then run again.",
    });
  }
  if (current !== null && !force && editedSinceGenerated(current)) {
    throw new PartyShardError(`${path} was edited since party-shard generated it.`, {
      location: { file: path },
      hint: "Pass --force to replace it with what party-shard generates now.",
    });
  }
  return { path, before: current, after: contents, generated: true };
}

/** Reads a file party-shard means to write; a folder in its place is bad input, not a crash. */
export async function readTarget(path: string, read: ReadFile): Promise<string | null> {
  try {
    return await read(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EISDIR") throw error;
    throw new PartyShardError(`${path} is a folder; party-shard needs to write a file there.`, {
      location: { file: path },
      hint: "Choose a file path (for the router: --out src/router.ts).",
    });
  }
}

/** Throws for a root-relative POSIX path inside .git or node_modules. */
export function refuseToolFolder(path: string): void {
  const folder = path.split("/").find((segment) => TOOL_FOLDERS.has(segment));
  if (folder) {
    throw new PartyShardError(`Refusing to write ${path}: party-shard never writes inside ${folder}.`, {
      hint: "Choose a path among your own source files.",
    });
  }
}

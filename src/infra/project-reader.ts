import { readSourceText, type Disk, type ProjectReader } from "../core/read-file.js";
import { resolveInsideRoot } from "./apply-plan.js";
import { disk as realDisk } from "./disk.js";
import { packageFiles } from "./package-files.js";

/**
 * What the planners read for a project: its files as text, refusing paths that lead outside it
 * and files that are not UTF-8 (`readSourceText`), the disk around it, and party-shard's own
 * files. Either platform's loaded config will do: only its root is read.
 */
export function projectReader(loaded: { root: string }, disk: Disk = realDisk): ProjectReader {
  return {
    read: async (relative) => readSourceText(disk, resolveInsideRoot(disk.realpath(loaded.root), relative, disk), relative),
    disk,
    own: packageFiles,
  };
}

import { promises as fs } from "node:fs";
import type { LoadedConfig } from "../core/config/load-config.js";
import { resolveInsideRoot } from "./apply-plan.js";

/** Reads files of the project, refusing paths that lead outside it. */
export function projectReader(loaded: LoadedConfig) {
  return async (relative: string): Promise<string | null> => {
    const file = await resolveInsideRoot(await fs.realpath(loaded.root), relative);
    return fs.readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return null;
      throw error;
    });
  };
}

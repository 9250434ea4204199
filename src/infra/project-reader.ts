import { promises as fs } from "node:fs";
import { decodeSource, describeInvalid } from "../core/decode-source.js";
import { PartyShardError } from "../errors.js";
import { resolveInsideRoot } from "./apply-plan.js";

/**
 * Reads files of the project as text, refusing paths that lead outside it. A BOM is dropped
 * (the applier writes it back); a file that is not UTF-8 is refused, since its text could
 * only be planned with U+FFFD in place of its bytes, and writing that back would destroy them.
 * Either platform's loaded config will do: only its root is read.
 */
export function projectReader(loaded: { root: string }) {
  return async (relative: string): Promise<string | null> => {
    const file = resolveInsideRoot(await fs.realpath(loaded.root), relative);
    const bytes = await fs.readFile(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ENOTDIR") return null;
      throw error;
    });
    if (bytes === null) return null;
    const decoded = decodeSource(bytes);
    if (!("invalid" in decoded)) return decoded.text;
    const { line, col } = decoded.invalid;
    throw new PartyShardError(`${describeInvalid(decoded.invalid)}: party-shard reads and writes UTF-8 only, and would destroy this file's other characters.`, {
      location: { file: relative, line, col },
      hint: "Save it as UTF-8 (in most editors: Save with Encoding → UTF-8) and run again.",
    });
  };
}

import path from "node:path";
import type { Disk } from "./read-file.js";

/**
 * `relative` under `from` or the nearest folder above it that has it, as node and npm look for
 * packages and configs: anything there, or with `only: "file"` a file (not a folder of that name).
 */
export function findUp(disk: Disk, from: string, relative: string, only?: "file"): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    const kind = disk.kindOf(candidate);
    if (kind !== undefined && (only === undefined || kind === only)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

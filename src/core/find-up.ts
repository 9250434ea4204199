import { existsSync, statSync } from "node:fs";
import path from "node:path";

/**
 * `relative` under `from` or the nearest folder above it that has it, as node and npm look
 * for packages and configs; `accept` says what counts as having it (by default, anything there).
 */
export function findUp(from: string, relative: string, accept: (candidate: string) => boolean = existsSync): string | undefined {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (accept(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

export function isFile(candidate: string): boolean {
  return statSync(candidate, { throwIfNoEntry: false })?.isFile() ?? false;
}

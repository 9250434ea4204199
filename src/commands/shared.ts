import type { OnProgress } from "../core/plan.js";
import type { ProgressLine } from "../ui/progress-line.js";

/** What init and migrate exit with, for their --help. */
export const WRITING_EXIT_CODES: [number, string][] = [
  [0, "written, or nothing to do (--dry-run: nothing written)"],
  [1, "declined at the prompt; nothing written"],
  [2, "bad input (flags, config, files); nothing written"],
  [130, "interrupted (Ctrl-C); every file put back as it was"],
];

/** The "Exit codes" section of a command's --help. */
export function exitCodesHelp(codes: [number, string][]): string {
  return `\nExit codes:\n${codes.map(([code, meaning]) => `  ${String(code).padEnd(4)}${meaning}`).join("\n")}\n`;
}

/** Runs a planner with the progress line, which is erased before anything else is printed. */
export async function withProgress<T>(progress: ProgressLine | undefined, run: (onProgress: OnProgress | undefined) => Promise<T>): Promise<T> {
  try {
    return await run(progress?.update);
  } finally {
    progress?.clear();
  }
}

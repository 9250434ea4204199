import { createTwoFilesPatch } from "diff";
import type { FileChange } from "../core/plan.js";
import type { Colors } from "./colour.js";

/** A unified diff of one planned change, `/dev/null` standing for a file that does not exist yet. */
export function unifiedDiff(change: FileChange): string {
  const oldName = change.before === null ? "/dev/null" : `a/${change.path}`;
  return createTwoFilesPatch(oldName, `b/${change.path}`, change.before ?? "", change.after, undefined, undefined, {
    context: 3,
  });
}

export function colorDiff(patch: string, pc: Colors): string {
  return patch
    .split("\n")
    .filter((line) => !line.startsWith("====="))
    .map((line) => {
      if (line.startsWith("+++") || line.startsWith("---")) return pc.bold(line);
      if (line.startsWith("+")) return pc.green(line);
      if (line.startsWith("-")) return pc.red(line);
      if (line.startsWith("@@")) return pc.cyan(line);
      return line;
    })
    .join("\n");
}

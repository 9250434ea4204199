import type { Node, SourceFile } from "ts-morph";
import type { Finding, FindingCode, FindingLevel } from "../plan.js";

/** What the server half reports: the party wrapped, a party it cannot wrap, a leftover of the old patch. */
export type ServerFindingCode = Extract<FindingCode, "party-patched" | "party-not-patchable" | "old-patch-left">;

/** A finding located at `node` (or the file's start), with the file's path filled in later by the planner. */
export function findingAt(file: SourceFile, node: Node | undefined, level: FindingLevel, code: FindingCode, message: string): Finding {
  const position = node ? file.getLineAndColumnAtPos(node.getStart()) : { line: 1, column: 1 };
  return { level, code, message, location: { file: file.getFilePath(), line: position.line, col: position.column } };
}

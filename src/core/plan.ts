import type { SourceLocation } from "../errors.js";

/**
 * One file the plan writes. `before` is null for a file that does not exist yet;
 * paths are relative to the plan's root, with forward slashes.
 */
export interface FileChange {
  path: string;
  before: string | null;
  after: string;
}

export type FindingLevel = "info" | "warning" | "manual";

/** Something the user should know: a skipped site, a manual step, a no-op. */
export interface Finding {
  level: FindingLevel;
  code: string;
  message: string;
  location?: SourceLocation;
}

/** What a command would do. Computed without writing; consumed by diff, JSON and the applier alike. */
export interface Plan {
  root: string;
  changes: FileChange[];
  findings: Finding[];
}

export function isEmptyPlan(plan: Plan): boolean {
  return plan.changes.length === 0;
}

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

/** How far a long planning run has got, for a progress line on a terminal. */
export type Progress =
  | { phase: "scan"; files: number }
  | { phase: "parse"; done: number; total: number; files: number }
  | { phase: "analyse"; done: number; total: number; sites: number };

export type OnProgress = (progress: Progress) => void;

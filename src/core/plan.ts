import type { SourceLocation } from "../errors.js";

/**
 * One file the plan writes. `before` is null for a file that does not exist yet;
 * paths are relative to the plan's root, with forward slashes.
 */
export interface FileChange {
  path: string;
  before: string | null;
  after: string;
  /** Rendered from a template (router, runtime, client helper): shown as one line unless --verbose. */
  generated?: boolean;
}

/** info and warning are for reading; manual is work left for the user (it keeps `check` red). */
export type FindingLevel = "info" | "warning" | "manual";

/** Every finding any planner reports; a new one is added here, so `check` and the summary can name it. */
export type FindingCode =
  // init, check
  | "up-to-date"
  | "router-outdated"
  // migrate, server half
  | "party-patched"
  | "party-not-patchable"
  | "old-patch-left"
  | "party-is-build-output"
  // migrate, client half
  | "socket-routed"
  | "socket-keyed"
  | "send-rewritten"
  | "send-unclassified"
  | "send-not-called"
  | "send-dynamic"
  | "send-any"
  | "party-unknown"
  | "parse-error"
  | "script-lang-unsupported"
  | "send-outside-block"
  | "not-utf8"
  | "partysocket-missing"
  | "tsconfig-partly-read"
  | "link-outside-project"
  | "other-partykit-project"
  // init and migrate: the runtime package the generated files import
  | "runtime-dependency"
  // PartyServer: migrate's server half, init and check
  | "class-swapped"
  | "class-not-swappable"
  | "server-override"
  | "handler-field"
  | "worker-routed"
  | "binding-used-directly"
  | "jurisdiction-unsupported"
  | "router-not-exported"
  | "router-config"
  // PartyServer: client half
  | "socket-main-party";

/** Something the user should know: a skipped site, a manual step, a no-op. */
export interface Finding {
  level: FindingLevel;
  code: FindingCode;
  message: string;
  location?: SourceLocation;
}

/** What a command would do. Computed without writing; consumed by diff, JSON and the applier alike. */
export interface Plan {
  root: string;
  changes: FileChange[];
  findings: Finding[];
}


/** How far a long planning run has got, for a progress line on a terminal. */
export type Progress =
  | { phase: "scan"; files: number }
  | { phase: "parse"; done: number; total: number; files: number }
  | { phase: "analyse"; done: number; total: number; sites: number };

export type OnProgress = (progress: Progress) => void;

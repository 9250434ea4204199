import path from "node:path";
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
  | "vendored-runtime-unused"
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

/** What is sharded: the party (PartyServer: the binding) and its file, and the shard count when known. */
export interface ShardSetup {
  party: string;
  file: string;
  shards?: number;
}

/** A root-relative path as seen from another root (a plan's root may be the repository's, not the config's). */
export function rebase(file: string, from: string, to: string): string {
  return path.relative(to, path.join(from, file)).split(path.sep).join("/");
}

/** A plan that also says what it works on, so the command can name it. */
export interface SetupPlan extends Plan {
  setup: ShardSetup;
}

/** init's plan: also whether migrate has already run on the party, which decides the step after init. */
export interface InitPlan extends SetupPlan {
  setup: Required<ShardSetup>;
  migrated: boolean;
}


/** How far a long planning run has got, for a progress line on a terminal. */
export type Progress =
  | { phase: "scan"; files: number }
  | { phase: "parse"; done: number; total: number; files: number }
  | { phase: "analyse"; done: number; total: number; sites: number };

export type OnProgress = (progress: Progress) => void;

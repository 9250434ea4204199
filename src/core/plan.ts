import path from "node:path";
import type { Finding } from "./findings.js";

export type { Finding, FindingCode, FindingLevel } from "./findings.js";

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
/** init's flags, as the command checked them; what either platform's init plans from. */
export interface InitOptions {
  /**
   * `--party`: the party (class or binding) to shard, by name as given or by its file (resolved
   * from --cwd). By default the one the platform finds (PartyKit: `main`, if it has WebSocket handlers).
   */
  party?: string;
  /** Shard count; by default the existing router's, or DEFAULT_SHARDS for a new one. */
  shards?: number;
  /** Clients a shard takes before a room opens the next; by default the existing router's, or DEFAULT_SHARD_TARGET. */
  shardTarget?: number;
  /** Router party name; defaults to `router`, or `<party>-router` for a party other than main. */
  name?: string;
  /** `--out`: the router file, resolved from --cwd; defaults to next to the party. */
  out?: string;
  force: boolean;
  /** `--vendor`/`--no-vendor`: the runtime copied into the project, or imported from the package; by default as it is now. */
  vendor?: boolean;
}

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

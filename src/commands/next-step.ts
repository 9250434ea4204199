/** What a writing run left behind, which decides the one step to take after it. */
export interface RunLeft {
  dryRun: boolean;
  /** The files the plan changes (written, or with --dry-run would be), as the user's shell names them. */
  changed: string[];
  written: boolean;
  /** What git calls uncommitted once the run is over; [] outside git. */
  uncommitted: string[];
  force: boolean;
}

const MIGRATE = "npx party-shard migrate --dry-run shows what routing the clients and the party changes";
const CHECK = "npx party-shard check lists anything left to shard";

/**
 * init's next step: write, commit, then migrate (check, once migrate has run). Committing is
 * asked for rather than migrate taking init's files as clean: migrate's diff then stands on its
 * own, and an edit made to a generated file after init never slips past the dirty-tree guard.
 */
export function initNext(left: RunLeft, migrated: boolean): string {
  if (left.dryRun && left.changed.length > 0) return writeFirst(left);
  const after = migrated ? CHECK : MIGRATE;
  if (left.written && left.uncommitted.length > 0) return `commit what init wrote (${commitCommand(left.changed)}), then ${after}`;
  return after;
}

export function migrateNext(left: RunLeft, devServer: string): string {
  if (left.dryRun && left.changed.length > 0) return writeFirst(left);
  return `${CHECK}; npx party-shard verify measures delivery on ${devServer}`;
}

/** After a dry run: the real run, which refuses a dirty tree, so a dirty tree comes first. */
function writeFirst(left: RunLeft): string {
  const run = `run the same command without --dry-run to write ${left.changed.length === 1 ? "1 file" : `${left.changed.length} files`}`;
  if (left.uncommitted.length === 0 || left.force) return run;
  return `commit or stash the uncommitted changes (${listed(left.uncommitted)}), then ${run}`;
}

function commitCommand(files: string[]): string {
  return `git add ${files.map(shellWord).join(" ")} && git commit -m "Shard the room with party-shard"`;
}

export function listed(files: string[]): string {
  return files.slice(0, 5).join(", ") + (files.length > 5 ? `, and ${files.length - 5} more` : "");
}

// Paths go into a command the user may paste, so one with a space or a quote is quoted.
function shellWord(word: string): string {
  return /^[\w./@+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

import fs, { type Stats } from "node:fs";
import path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import { BOM, decodeSource, describeInvalid } from "../core/decode-source.js";
import type { FileChange, Plan } from "../core/plan.js";
import type { Disk } from "../core/read-file.js";
import { InterruptedError, PartyShardError } from "../errors.js";
import { disk as realDisk } from "./disk.js";
import { withSignalsTrapped } from "./signals.js";
import { replaceFile, writeTemp } from "./temp-file.js";

/** A file as it was before the plan: what rolling back puts back. */
interface Original {
  bytes: Buffer;
  stats: Stats;
  /** It starts with a BOM that the plan's text, like ts-morph's, does not have. */
  addBom: boolean;
}

interface Staged {
  change: FileChange;
  target: string;
  temp: string;
  /** null for a file the plan creates. */
  original: Original | null;
  renamed: boolean;
}

interface Journal {
  root: string;
  staged: Staged[];
  createdDirs: string[];
}

/**
 * The only place party-shard writes files, as one transaction. Every change is staged as a
 * temp file beside its target (`.<name>.<hex>.tmp`, with the target's mode and owner), then
 * all are renamed into place. An error, or SIGINT/SIGTERM/SIGHUP (trapped while this runs), before
 * the last rename puts every file back as it was and removes every temp file, then throws
 * (an InterruptedError for a signal): a plan lands whole or not at all.
 *
 * File system calls are synchronous, one file at a time: on a large plan that is several
 * times faster than the thread pool, and a signal is still seen between two files.
 */
export async function applyPlan(plan: Plan): Promise<void> {
  await withSignalsTrapped(async (signal) => {
    const journal: Journal = { root: fs.realpathSync(plan.root), staged: [], createdDirs: [] };
    let current: string | undefined;
    try {
      for (const change of plan.changes) {
        await checkpoint(signal);
        current = change.path;
        journal.staged.push(stage(journal, change));
      }
      for (const item of journal.staged) {
        await checkpoint(signal);
        current = item.change.path;
        fs.renameSync(item.temp, item.target);
        item.renamed = true;
      }
    } catch (error) {
      throw explain(error, current, rollBack(journal));
    }
  });
}

/** Lets a signal that arrived run its handler, and stops if it did. */
async function checkpoint(signal: AbortSignal): Promise<void> {
  await nextTurn();
  signal.throwIfAborted();
}

/** Checks the target is as planned and writes what it becomes to a temp file beside it. */
function stage(journal: Journal, change: FileChange): Staged {
  const target = resolveInsideRoot(journal.root, change.path);
  const original = readOriginal(target, change);
  makeParentDirs(journal.root, target, journal.createdDirs);
  const after = original?.addBom ? BOM + change.after : change.after;
  return { change, target, temp: writeTemp(target, Buffer.from(after), original?.stats), original, renamed: false };
}

/**
 * The target now, which must be what the plan was computed from: a change made since, or
 * bytes that are not UTF-8 (which the plan's text could only hold as U+FFFD), are refused.
 */
function readOriginal(target: string, change: FileChange): Original | null {
  const bytes = readIfExists(target);
  if (bytes === null && change.before === null) return null;
  if (bytes === null || change.before === null) throw changedOnDisk(change);
  const decoded = decodeSource(bytes);
  if ("invalid" in decoded) {
    const { line, col } = decoded.invalid;
    throw new PartyShardError(`${describeInvalid(decoded.invalid)}; party-shard does not rewrite such a file, and nothing was written.`, {
      location: { file: change.path, line, col },
      hint: "Save it as UTF-8 and run again.",
    });
  }
  const planHasBom = change.before.startsWith(BOM);
  if ((decoded.bom && planHasBom ? BOM : "") + decoded.text !== change.before) throw changedOnDisk(change);
  return { bytes, stats: fs.statSync(target), addBom: decoded.bom && !planHasBom };
}

function readIfExists(file: string): Buffer | null {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

function changedOnDisk(change: FileChange): PartyShardError {
  return new PartyShardError(`${change.path} changed on disk while party-shard was planning; nothing was written.`, { hint: "Run the command again." });
}

/** Puts every target back and removes every temp file; returns what could not be put back. */
function rollBack(journal: Journal): string[] {
  const failed: string[] = [];
  const attempt = (file: string, undo: () => void) => {
    try {
      undo();
    } catch (error) {
      failed.push(`${path.relative(journal.root, file)} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  // Temp files first: on a full disk, that frees the space putting files back needs.
  for (const item of journal.staged) if (!item.renamed) attempt(item.temp, () => fs.rmSync(item.temp, { force: true }));
  for (const item of journal.staged) if (item.renamed) attempt(item.target, () => putBack(item));
  for (const dir of journal.createdDirs.reverse()) {
    try {
      fs.rmdirSync(dir);
    } catch {
      // Not empty: something else was put there meanwhile, and stays.
    }
  }
  return failed;
}

function putBack({ target, original }: Staged): void {
  if (original) replaceFile(target, original.bytes, original.stats);
  else fs.rmSync(target, { force: true });
}

/** The error to report: what went wrong, and whether everything was put back. */
function explain(error: unknown, file: string | undefined, notPutBack: string[]): PartyShardError {
  const leftOver = notPutBack.length > 0 ? `these could not be put back as they were: ${notPutBack.join(", ")}` : undefined;
  const leftOverHint = "`git status` lists them; `git checkout -- <file>` restores a file from the last commit.";
  if (error instanceof InterruptedError) {
    return leftOver ? new InterruptedError(error.signal, leftOver, { hint: leftOverHint }) : new InterruptedError(error.signal, "nothing was written.");
  }
  if (error instanceof PartyShardError) {
    if (!leftOver) return error;
    return new PartyShardError(`${error.message} But ${leftOver}.`, { exitCode: 1, location: error.location, hint: leftOverHint, cause: error });
  }
  const code = (error as NodeJS.ErrnoException).code;
  const cause = code === "ENOSPC" ? "The disk is full" : code === "EACCES" || code === "EPERM" ? "party-shard may not write there" : "Fix the cause";
  return new PartyShardError(`Could not write ${file ?? "the planned changes"}: ${(error as Error).message}${leftOver ? `; and ${leftOver}` : ""}.`, {
    exitCode: 1,
    hint: leftOver ? leftOverHint : `Nothing was changed. ${cause}; then run again.`,
    cause: error,
  });
}

/** Resolves `relative` under `root`, following symlinks of existing parents (on `disk`) so none leads outside. */
export function resolveInsideRoot(root: string, relative: string, disk: Disk = realDisk): string {
  const target = path.resolve(root, relative);
  let existing = target;
  while (disk.kindOf(existing) === undefined && path.dirname(existing) !== existing) existing = path.dirname(existing);
  const real = path.join(disk.realpath(existing), path.relative(existing, target));
  if (!isInside(root, real)) {
    throw new PartyShardError(`Refusing to write ${relative}: it is outside the project root ${root}.`);
  }
  return real;
}

export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative);
}

/** Creates the folders `target` needs, recording each in `created` as soon as it exists. */
function makeParentDirs(root: string, target: string, created: string[]): void {
  const missing: string[] = [];
  for (let dir = path.dirname(target); dir !== root && !fs.existsSync(dir); dir = path.dirname(dir)) missing.unshift(dir);
  for (const dir of missing) {
    fs.mkdirSync(dir);
    created.push(dir);
  }
}

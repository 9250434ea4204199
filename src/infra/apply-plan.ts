import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { PartyShardError } from "../errors.js";
import type { FileChange, Plan } from "../core/plan.js";

interface Staged {
  change: FileChange;
  target: string;
  temp: string;
  renamed: boolean;
}

/**
 * The only place party-shard writes files. All changes are staged as temp files next to
 * their targets, then renamed into place; if anything fails, targets already replaced get
 * their previous contents back, so a plan lands whole or not at all.
 */
export async function applyPlan(plan: Plan): Promise<void> {
  const root = await fs.realpath(plan.root);
  const createdDirs: string[] = [];
  const staged: Staged[] = [];
  try {
    for (const change of plan.changes) {
      const target = await resolveInsideRoot(root, change.path);
      await assertUnchanged(target, change);
      createdDirs.push(...(await makeParentDirs(root, target)));
      const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString("hex")}.tmp`);
      const mode = change.before === null ? undefined : (await fs.stat(target)).mode;
      await fs.writeFile(temp, change.after, { flag: "wx", mode });
      staged.push({ change, target, temp, renamed: false });
    }
    for (const item of staged) {
      await fs.rename(item.temp, item.target);
      item.renamed = true;
    }
  } catch (error) {
    await rollBack(staged, createdDirs);
    if (error instanceof PartyShardError) throw error;
    throw new PartyShardError(`Could not write the planned changes: ${(error as Error).message}`, {
      exitCode: 1,
      hint: "Nothing was changed; fix the cause and run again.",
      cause: error,
    });
  }
}

async function rollBack(staged: Staged[], createdDirs: string[]): Promise<void> {
  for (const item of staged.reverse()) {
    if (!item.renamed) {
      await fs.rm(item.temp, { force: true });
    } else if (item.change.before === null) {
      await fs.rm(item.target, { force: true });
    } else {
      await fs.writeFile(item.target, item.change.before);
    }
  }
  for (const dir of createdDirs.reverse()) await fs.rmdir(dir).catch(() => undefined);
}

/** Resolves `relative` under `root`, following symlinks of existing parents so none leads outside. */
export async function resolveInsideRoot(root: string, relative: string): Promise<string> {
  const target = path.resolve(root, relative);
  let existing = target;
  while (!(await exists(existing))) existing = path.dirname(existing);
  const real = path.join(await fs.realpath(existing), path.relative(existing, target));
  if (!isInside(root, real)) {
    throw new PartyShardError(`Refusing to write ${relative}: it is outside the project root ${root}.`);
  }
  return real;
}

export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative);
}

async function assertUnchanged(target: string, change: FileChange): Promise<void> {
  const current = await fs.readFile(target, "utf8").catch(() => null);
  if (current !== change.before) {
    throw new PartyShardError(`${change.path} changed on disk while party-shard was planning; nothing was written.`, {
      hint: "Run the command again.",
    });
  }
}

async function makeParentDirs(root: string, target: string): Promise<string[]> {
  const missing: string[] = [];
  for (let dir = path.dirname(target); dir !== root && !(await exists(dir)); dir = path.dirname(dir)) {
    missing.unshift(dir);
  }
  for (const dir of missing) await fs.mkdir(dir);
  return missing;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

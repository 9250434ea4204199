import { execa } from "execa";

/**
 * Files git would call changed (tracked or untracked), or [] when `dir` is not in a git
 * repository or git is not installed: a folder outside git counts as clean.
 */
export async function uncommittedFiles(dir: string): Promise<string[]> {
  const status = await execa("git", ["status", "--porcelain"], { cwd: dir, reject: false });
  if (status.exitCode !== 0) return [];
  return status.stdout.split("\n").filter(Boolean).map((line) => line.slice(3));
}

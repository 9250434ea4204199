import { spawnSync } from "node:child_process";
import { readdirSync, realpathSync } from "node:fs";

/**
 * Live processes whose working folder is `dir`: a dev server started there and the workerd
 * processes it runs. Zombies do not count (they have exited; their cwd cannot be read).
 */
export function processesIn(dir: string): number[] {
  const real = realpathSync(dir);
  return readdirSync("/proc").filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => {
    try {
      return realpathSync(`/proc/${pid}/cwd`) === real;
    } catch {
      return false; // gone meanwhile, a zombie, or not ours to read
    }
  });
}

/**
 * The live processes of a process group, as `pid stat command`. Zombies do not count: they
 * have exited, and where PID 1 does not reap orphans (some containers) they stay listed.
 */
export function groupMembers(pgid: number): string[] {
  const result = spawnSync("ps", ["-o", "pid=,stat=,comm=", "-g", String(pgid)], { encoding: "utf8" });
  return result.stdout.split("\n").map((line) => line.trim()).filter((line) => line && !/^\d+ Z/.test(line));
}

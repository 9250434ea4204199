import type { Progress } from "../core/plan.js";

const INTERVAL_MS = 80;

export interface ProgressLine {
  update(progress: Progress): void;
  /** Erases the line, so what the command prints next starts clean. */
  clear(): void;
}

/**
 * One line on a terminal, rewritten in place as a long run goes on. Planning runs without
 * yielding to the event loop, so a spinner's timer would never fire: the line is written
 * synchronously, at most every INTERVAL_MS, and the last phase change always shows.
 */
export function createProgressLine(stream: Pick<NodeJS.WriteStream, "write">, now: () => number = Date.now): ProgressLine {
  let last = Number.NEGATIVE_INFINITY;
  let lastPhase: Progress["phase"] | undefined;
  let shown = false;
  return {
    update(progress) {
      const time = now();
      if (progress.phase === lastPhase && time - last < INTERVAL_MS) return;
      last = time;
      lastPhase = progress.phase;
      shown = true;
      stream.write(`\r\x1b[2K${describe(progress)}`);
    },
    clear() {
      if (shown) stream.write("\r\x1b[2K");
      shown = false;
    },
  };
}

export function describe(progress: Progress): string {
  const count = (n: number) => n.toLocaleString("en-US");
  switch (progress.phase) {
    case "scan":
      return `scanning files: ${count(progress.files)} read`;
    case "parse":
      return `parsing ${count(progress.total)} of ${count(progress.files)} files that can hold a socket: ${count(progress.done)}`;
    case "analyse":
      return `analysing: ${count(progress.done)}/${count(progress.total)} files, ${count(progress.sites)} socket sites found`;
  }
}

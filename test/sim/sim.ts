/**
 * The simulator's entry points: run many schedules, and describe a diverging one (its seed, the
 * first differing observation, a short trace, the command that replays it).
 */
import type { Divergence } from "./check.js";
import { FAULT_KINDS, runSchedule, type FaultKind, type ScheduleResult } from "./schedule.js";

interface Summary {
  schedules: number;
  diverged: ScheduleResult[];
  seconds: number;
}

/** Runs `count` schedules, seeds `first`, `first + 1`, …; calls `onDivergence` for each that diverges. */
async function runMany(first: number, count: number, faults: readonly FaultKind[], onDivergence?: (result: ScheduleResult) => unknown): Promise<Summary> {
  const started = performance.now();
  const diverged: ScheduleResult[] = [];
  for (let seed = first; seed < first + count; seed++) {
    const result = await runSchedule(seed, { faults });
    if (!result.divergence) continue;
    diverged.push(result);
    await onDivergence?.(result);
  }
  return { schedules: count, diverged, seconds: (performance.now() - started) / 1000 };
}

/** `--faults a,b` for a subset; nothing when every kind is on (the default). */
function faultsFlag(faults: readonly FaultKind[]): string {
  return faults.length === FAULT_KINDS.length ? "" : ` --faults ${faults.length > 0 ? faults.join(",") : "none"}`;
}

function replayCommand(seed: number, faults: readonly FaultKind[]): string {
  return `npm run sim -- --schedules 1 --seed ${seed}${faultsFlag(faults)}`;
}

/**
 * Trace lines worth reading for a divergence: from the socket's connect on, those about its
 * client id, and every fault and (re)start.
 */
function shortTrace(trace: string[], divergence: Divergence, limit = 40): string[] {
  const { about, id, at } = divergence;
  const names = [about, id].filter(Boolean).map((name) => name.replace(/[-.]/g, "\\$&"));
  const client = names.length > 0 ? new RegExp(`(^|[^\\w.-])(${names.join("|")})($|[^\\w-])`) : undefined;
  const relevant = (lines: string[]) => lines.filter((line) => (client?.test(line) ?? false) || / dropped| delayed| evicted| starts| restarts|! /.test(line));
  // A handler that saw something else: what led up to it. A socket: its story from its connect on.
  if (at !== undefined) return relevant(trace.filter((line) => Number.parseFloat(line) <= at)).slice(-limit);
  const from = trace.findIndex((line) => line.includes(` ${about} connects`));
  return from >= 0 ? relevant(trace.slice(from)).slice(0, limit) : relevant(trace).slice(-limit);
}

/** Runs the seed again with its trace on and says what diverged; the second run must diverge the same way. */
async function describe(seed: number, faults: readonly FaultKind[]): Promise<string> {
  const result = await runSchedule(seed, { faults, trace: true });
  const divergence = result.divergence;
  if (!divergence) return `seed ${seed}: diverged once, not when run again with its trace: the simulation is not deterministic`;
  const lines = [
    `DIVERGED seed ${seed} (${divergence.kind}): ${divergence.detail}`,
    `  ${result.shape}; faults ${faults.join(",") || "none"}`,
    ...(result.errors.length > 0 ? [`  runtime errors: ${result.errors.slice(0, 3).join(" | ")}`] : []),
    `  trace (${divergence.about || "faults"}; last lines):`,
    ...shortTrace(result.trace, divergence).map((line) => `    ${line}`),
    `  replay: ${replayCommand(seed, faults)}`,
  ];
  return lines.join("\n");
}

/** Fault kinds from `a,b,c` ("none": no faults); throws on an unknown kind. */
function parseFaults(text: string | undefined): FaultKind[] {
  if (text === undefined) return [...FAULT_KINDS];
  if (text === "none" || text === "") return [];
  const kinds = text.split(",").map((kind) => kind.trim());
  for (const kind of kinds) if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new Error(`unknown fault kind "${kind}" (kinds: ${FAULT_KINDS.join(", ")}, or none)`);
  return kinds as FaultKind[];
}

export { FAULT_KINDS, describe, parseFaults, replayCommand, runMany, runSchedule };
export type { FaultKind, ScheduleResult, Summary };

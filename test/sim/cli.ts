/**
 * npm run sim -- --schedules N [--seed S] [--faults kind,kind,…|none] [--trace]
 *
 * Runs N seeded schedules of the real runtime against the unsharded reference (seeds S, S+1, …;
 * S random and printed when not given). Prints each diverging seed with the command that replays
 * it, then one line: `schedules N, diverged D, seconds T`. Exit 1 on any divergence.
 * Kinds (all by default): await, reconnect, write, link-drop, link-delay, shard-evict, leader-evict,
 * restart, squat, request-drop (schedule.ts says what each does). --trace prints each schedule's whole trace.
 */
import { parseArgs } from "node:util";
import { describe, parseFaults, replayCommand, runMany, runSchedule } from "./sim.js";

const { values } = parseArgs({
  options: {
    schedules: { type: "string", default: "100" },
    seed: { type: "string" },
    faults: { type: "string" },
    trace: { type: "boolean", default: false },
  },
});

const count = Number(values.schedules);
const first = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(count) || count < 0 || !Number.isSafeInteger(first)) {
  console.error("usage: npm run sim -- --schedules N [--seed S] [--faults kind,kind|none] [--trace]");
  process.exit(2);
}
let faults;
try {
  faults = parseFaults(values.faults);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
if (values.seed === undefined) console.log(`seed ${first} (random; replay with --seed ${first})`);

if (values.trace) {
  for (let seed = first; seed < first + count; seed++) {
    const result = await runSchedule(seed, { faults, trace: true });
    console.log(`seed ${seed}: ${result.shape}`);
    for (const line of result.trace) console.log(`  ${line}`);
  }
}

const summary = await runMany(first, count, faults, async (result) => {
  console.log(await describe(result.seed, faults));
  console.log("");
});
if (summary.diverged.length > 0) {
  console.log(`diverging seeds: ${summary.diverged.map((r) => r.seed).join(", ")}`);
  for (const result of summary.diverged.slice(0, 5)) console.log(`  ${replayCommand(result.seed, faults)}`);
}
console.log(`schedules ${summary.schedules}, diverged ${summary.diverged.length}, seconds ${summary.seconds.toFixed(1)}`);
process.exit(summary.diverged.length > 0 ? 1 : 0);

#!/usr/bin/env node
/**
 * Runs test files, several at once, each in a process of its own. Temp folders go to a folder
 * of this run's, which must be empty at the end: a test that leaves one behind fails the run,
 * and the folder is removed either way.
 *
 *   node test/run-tests.mjs                 the fast tier (npm test): test/*.test.ts, the
 *                                           core's fixture and type-check suites, and the
 *                                           differential live test
 *   node test/run-tests.mjs --rest          the rest (npm run test:e2e): the built CLI end to
 *                                           end (test/e2e) and the other live suites (test/live)
 *   node test/run-tests.mjs --all           both
 *   node test/run-tests.mjs test/live ...   these files and folders
 *   TEST_CONCURRENCY=1 …                    one file at a time (default: 4, or 2 with --rest/--all)
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const REPO = path.resolve(import.meta.dirname, "..");
const args = process.argv.slice(2);
// The fast tier mostly waits on tsc and one partykit dev, so more files than cores run at once.
// The rest holds many timing-bound live suites: two at a time, so a loaded machine does not
// turn a slow answer into a failure.
const CONCURRENCY = Number(process.env.TEST_CONCURRENCY ?? (args.includes("--rest") || args.includes("--all") ? 2 : 4));

function testFiles(target) {
  const full = path.resolve(REPO, target);
  if (statSync(full).isFile()) return [full];
  return readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules" || entry.name === "fixtures" || entry.name.startsWith(".")) return [];
    const child = path.join(full, entry.name);
    if (entry.isDirectory()) return testFiles(child);
    return entry.name.endsWith(".test.ts") ? [child] : [];
  });
}

// The fast tier's live test: the one every change is measured by.
const FAST_LIVE = [path.join(REPO, "test", "live", "differential.test.ts")];
const fast = () => [...readdirSync(path.join(REPO, "test")).filter((name) => name.endsWith(".test.ts")).map((name) => path.join(REPO, "test", name)), ...FAST_LIVE];
const everything = () => testFiles("test");

const paths = args.filter((arg) => !arg.startsWith("--"));
const chosen =
  paths.length > 0 ? paths.flatMap(testFiles)
  : args.includes("--all") ? everything()
  : args.includes("--rest") ? everything().filter((file) => !fast().includes(file))
  : fast();
// Live files first: they take longest, so starting them early keeps the run short.
const isLive = (file) => file.includes(`${path.sep}live${path.sep}`);
const files = [...new Set(chosen)].sort((a, b) => Number(isLive(b)) - Number(isLive(a)) || a.localeCompare(b));

const runTemp = mkdtempSync(path.join(os.tmpdir(), "party-shard-test-run-"));
const started = Date.now();
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", `--test-concurrency=${CONCURRENCY}`, "--test-timeout=180000", ...files.map((file) => path.relative(REPO, file))],
  { cwd: REPO, stdio: "inherit", env: { ...process.env, TMPDIR: runTemp } },
);
// tsx keeps its compile cache in the temp dir (tsx-<uid>): not a test's folder.
const left = readdirSync(runTemp).filter((name) => !/^tsx-\d+$/.test(name));
rmSync(runTemp, { recursive: true, force: true });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
let exitCode = result.status ?? 1;
if (left.length > 0) {
  console.error(`\nTests left ${left.length} temp folder(s) behind (removed now): ${left.slice(0, 10).join(", ")}`);
  exitCode ||= 1;
}
console.error(`\n${files.length} test files in ${seconds} s (${CONCURRENCY} at a time)`);
process.exit(exitCode);

#!/usr/bin/env node
/**
 * `npm test`: every test file under test/ (or the files and folders given), several files at
 * once, each in a process of its own. Temp folders go to a folder of this run's, which must be
 * empty at the end: a test that leaves one behind fails the run, and the folder is removed
 * either way.
 *
 *   node test/run-tests.mjs                     every *.test.ts
 *   node test/run-tests.mjs test/live           one folder
 *   TEST_CONCURRENCY=1 node test/run-tests.mjs  one file at a time
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const REPO = path.resolve(import.meta.dirname, "..");
// Live tests mostly wait on partykit dev and the network, so more files than cores run at once.
const CONCURRENCY = Number(process.env.TEST_CONCURRENCY ?? 4);

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

const targets = process.argv.slice(2);
// Live files first: they take longest, so starting them early keeps the run short.
const files = [...new Set((targets.length > 0 ? targets : ["test"]).flatMap(testFiles))].sort(
  (a, b) => Number(b.includes(`${path.sep}live${path.sep}`)) - Number(a.includes(`${path.sep}live${path.sep}`)) || a.localeCompare(b),
);

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

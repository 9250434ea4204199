/**
 * npm run bench:migrate — synthetic PartyKit apps of 2,000 and 20,000 files (200 of them with
 * sockets, in several patterns; the rest ordinary code, some with non-socket `.send` calls),
 * timing `migrate --dry-run`, `check`, `migrate` and `tsc --noEmit` on the same tree, and
 * `party-shard --help`. Prints a table and the targets met, and writes
 * test/bench/results/migrate.json. BENCH_SIZES=2000 picks sizes; BENCH_DENSE=1 adds the worst
 * case; BENCH_KEEP=1 keeps the generated apps.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { CLI, REPO } from "../helpers/cli.js";
import { SOCKET_FILES, generateApp, type Expected } from "./synthetic-app.js";

const SIZES = (process.env.BENCH_SIZES ?? "2000,20000").split(",").map(Number);
// BENCH_DENSE=1 adds the worst case: apps where every file imports a module that can hold a socket.
const SHAPES = process.env.BENCH_DENSE ? [false, true] : [false];
const STARTS = 21;

/** Wall seconds and peak RSS (MB) of one command, through GNU time when it is installed. */
async function measure(command: string, args: string[], cwd: string) {
  const gnuTime = existsSync("/usr/bin/time");
  const started = performance.now();
  const result = gnuTime
    ? await execa("/usr/bin/time", ["-f", "%M", command, ...args], { cwd, reject: false, env: { CI: "true" } })
    : await execa(command, args, { cwd, reject: false, env: { CI: "true" } });
  const wall = (performance.now() - started) / 1000;
  const rssKb = gnuTime ? Number(result.stderr.trim().split("\n").at(-1)) : Number.NaN;
  return { wall, rssMb: rssKb / 1024, exitCode: result.exitCode };
}

/**
 * Median wall milliseconds of each node command over STARTS runs, taken in turns so that a
 * busy moment of the machine falls on all of them alike: one start is too noisy to compare.
 */
function medianStarts(commands: string[][], env: NodeJS.ProcessEnv): number[] {
  const times = commands.map(() => [] as number[]);
  for (let i = 0; i < STARTS; i++) {
    commands.forEach((args, k) => {
      const started = performance.now();
      spawnSync(process.execPath, args, { stdio: "ignore", env });
      times[k]!.push(performance.now() - started);
    });
  }
  return times.map((runs) => runs.sort((a, b) => a - b)[Math.floor(STARTS / 2)]!);
}

/**
 * Start-up of `--help` beside what no CLI goes below (`node -e 0`) and what the argument parser
 * costs by itself. NODE_EXTRA_CA_CERTS makes node read a certificate bundle at every start
 * (~90 ms on the machine this was written on); when it is set, starts are also timed without it.
 */
function startTimes() {
  const commands = [[CLI, "--help"], ["-e", "0"], ["--input-type=module", "-e", `import "${path.join(REPO, "node_modules", "commander", "esm.mjs")}";`]];
  const measureIn = (env: NodeJS.ProcessEnv) => {
    const [help, bareNode, commander] = medianStarts(commands, env) as [number, number, number];
    return { help, bareNode, commander };
  };
  const { NODE_EXTRA_CA_CERTS, ...withoutCerts } = process.env;
  return { asRun: measureIn(process.env), withoutExtraCerts: NODE_EXTRA_CA_CERTS ? measureIn(withoutCerts) : undefined };
}

async function main() {
  const node = process.execPath;
  const tsc = path.join(REPO, "node_modules", ".bin", "tsc");
  const rows: Row[] = [];
  const checked: string[] = [];
  const starts = startTimes();
  for (const [total, dense] of SIZES.flatMap((size) => SHAPES.map((shape) => [size, shape] as const))) {
    process.stderr.write(`generating ${total} files${dense ? " (dense)" : ""}…\n`);
    const { root, expected } = await generateApp(total, dense);
    try {
      // With the exit code each must give: a run that fails fast is no measurement. (check: 1, work left.)
      const runs = [
        ["tsc --noEmit", tsc, ["--noEmit", "-p", root], 0],
        ["migrate --dry-run", node, [CLI, "migrate", "--dry-run", "--json"], 0],
        ["check", node, [CLI, "check", "--json"], 1],
        ["migrate", node, [CLI, "migrate", "--yes", "--json"], 0],
      ] as const;
      let tscWall = Number.NaN;
      for (const [label, command, args, expectedExit] of runs) {
        process.stderr.write(`  ${label}…\n`);
        const { wall, rssMb, exitCode } = await measure(command, [...args], root);
        if (exitCode !== expectedExit) throw new Error(`${label} exited ${exitCode} (expected ${expectedExit}) in ${root}`);
        if (label === "tsc --noEmit") tscWall = wall;
        rows.push({ files: total, app: dense ? "dense" : "typical", command: label, wall, rssMb, vsTsc: wall / tscWall });
      }
      expectMigrated(root, expected);
      checked.push(`${total} files${dense ? " (dense)" : ""}: ${expected.sends} socket sends and ${expected.connections} connections routed, ${expected.ownSends} other sends left alone (read back from the files)`);
    } finally {
      if (!process.env.BENCH_KEEP) rmSync(root, { recursive: true, force: true });
    }
  }
  const lines = rows.map((r) => `| ${String(r.files).padStart(6)} | ${r.app.padEnd(7)} | ${r.command.padEnd(17)} | ${r.wall.toFixed(2).padStart(7)} s | ${r.rssMb.toFixed(0).padStart(5)} MB | ${r.vsTsc.toFixed(2).padStart(5)}x |`);
  console.log(`\n${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown cpu"}), Node ${process.version}; ${SOCKET_FILES} socket files per app\n`);
  console.log("|  files | app     | command           |    wall   | peak RSS | vs tsc |");
  console.log("|--------|---------|-------------------|-----------|----------|--------|");
  console.log(lines.join("\n"));
  console.log(`\n${checked.join("\n")}`);
  const ms = (value: number | undefined) => (value === undefined ? "" : `${value.toFixed(0)} ms`).padStart(8);
  const clean = starts.withoutExtraCerts;
  console.log(`\nStart-up, median of ${STARTS}:     as run  ${clean ? "without NODE_EXTRA_CA_CERTS" : ""}`);
  for (const [label, key] of [["node -e 0", "bareNode"], ["node importing commander", "commander"], ["party-shard --help", "help"]] as const) {
    console.log(`  ${label.padEnd(26)} ${ms(starts.asRun[key])}  ${ms(clean?.[key])}`);
  }
  console.log("");
  for (const [target, met] of targets(rows, (clean ?? starts.asRun).help)) console.log(`${met ? "met    " : "NOT MET"}  ${target}`);
  const outDir = path.join(REPO, "test", "bench", "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "migrate.json"), JSON.stringify({ rows, starts }, null, 2));
}

type Row = { files: number; app: "typical" | "dense"; command: string; wall: number; rssMb: number; vsTsc: number };

/** The targets, judged on this run's typical apps (the 20,000-file ones only when both sizes ran). */
function targets(rows: Row[], helpMs: number): [string, boolean][] {
  const row = (files: number, command: string) => rows.find((r) => r.files === files && r.app === "typical" && r.command === command);
  const verdicts: [string, boolean][] = [];
  const small = row(2000, "migrate");
  const large = row(20000, "migrate");
  if (small) {
    verdicts.push(["2,000 files: migrate <= 1.0x tsc --noEmit", small.vsTsc <= 1]);
    verdicts.push(["2,000 files: migrate peak RSS <= 400 MB", small.rssMb <= 400]);
  }
  if (large) verdicts.push(["20,000 files: migrate <= 1.0x tsc --noEmit", large.vsTsc <= 1]);
  if (small && large) verdicts.push(["20,000 files: migrate <= 2x its 2,000-file time", large.wall <= 2 * small.wall]);
  verdicts.push(["party-shard --help <= 150 ms (without NODE_EXTRA_CA_CERTS, when it is set)", helpMs <= 150]);
  return verdicts;
}

/**
 * A fast wrong answer is no result: after the writing migrate, the tree is read back and every
 * socket send and connection the generator wrote must be routed, every other send untouched.
 * Counted from the files, not from migrate's own report.
 */
function expectMigrated(root: string, expected: Expected) {
  const found = { sends: 0, connections: 0, ownSends: 0 };
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(full);
      else if (entry.name.endsWith(".ts") && entry.name !== "party-shard-client.ts") {
        const text = readFileSync(full, "utf8");
        found.sends += text.split("sendViaRouter(").length - 1;
        found.connections += text.split(`party: "router"`).length - 1;
        found.ownSends += text.split("mailer.send(").length - 1;
      }
    }
  };
  visit(path.join(root, "src"));
  if (JSON.stringify(found) !== JSON.stringify(expected)) {
    throw new Error(`migrate left ${root} wrong: expected ${JSON.stringify(expected)}, found ${JSON.stringify(found)}`);
  }
}

await main();

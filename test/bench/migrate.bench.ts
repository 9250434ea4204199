/**
 * npm run bench:migrate — synthetic PartyKit apps of 2,000 and 20,000 files (200 of them with
 * sockets, in several patterns; the rest ordinary code, some with non-socket `.send` calls),
 * timing `migrate --dry-run`, `check`, `migrate` and `tsc --noEmit` on the same tree, and
 * `party-shard --help`. Prints a table and writes test/bench/results/migrate.json.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { CLI, REPO } from "../helpers/cli.js";
import { SOCKET_FILES, generateApp } from "./synthetic-app.js";

const SIZES = (process.env.BENCH_SIZES ?? "2000,20000").split(",").map(Number);
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

/** Median wall milliseconds of `args` over STARTS runs: one start is too noisy to compare. */
function medianStart(args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const started = performance.now();
    spawnSync(process.execPath, args, { stdio: "ignore" });
    times.push(performance.now() - started);
  }
  return times.sort((a, b) => a - b)[Math.floor(STARTS / 2)]!;
}

async function main() {
  const node = process.execPath;
  const tsc = path.join(REPO, "node_modules", ".bin", "tsc");
  const rows: { files: number; command: string; wall: number; rssMb: number; vsTsc: number }[] = [];
  const helpMs = medianStart([CLI, "--help"]);
  const bareNodeMs = medianStart(["-e", "0"]);
  for (const total of SIZES) {
    process.stderr.write(`generating ${total} files…\n`);
    const root = await generateApp(total);
    try {
      const runs = [
        ["tsc --noEmit", tsc, ["--noEmit", "-p", root]],
        ["migrate --dry-run", node, [CLI, "migrate", "--dry-run", "--json"]],
        ["check", node, [CLI, "check", "--json"]],
        ["migrate", node, [CLI, "migrate", "--yes", "--json"]],
      ] as const;
      let tscWall = Number.NaN;
      for (const [label, command, args] of runs) {
        process.stderr.write(`  ${label}…\n`);
        const { wall, rssMb } = await measure(command, [...args], root);
        if (label === "tsc --noEmit") tscWall = wall;
        rows.push({ files: total, command: label, wall, rssMb, vsTsc: wall / tscWall });
      }
      await expectEverySocketMigrated(root);
    } finally {
      if (!process.env.BENCH_KEEP) rmSync(root, { recursive: true, force: true });
    }
  }
  const lines = rows.map((r) => `| ${String(r.files).padStart(6)} | ${r.command.padEnd(17)} | ${r.wall.toFixed(2).padStart(7)} s | ${r.rssMb.toFixed(0).padStart(5)} MB | ${r.vsTsc.toFixed(2).padStart(5)}x |`);
  console.log(`\n${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown cpu"}), Node ${process.version}; ${SOCKET_FILES} socket files per app\n`);
  console.log("|  files | command           |    wall   | peak RSS | vs tsc |");
  console.log("|--------|-------------------|-----------|----------|--------|");
  console.log(lines.join("\n"));
  console.log(`\nparty-shard --help: ${helpMs.toFixed(0)} ms wall (median of ${STARTS}; node -e 0 alone: ${bareNodeMs.toFixed(0)} ms)`);
  const outDir = path.join(REPO, "test", "bench", "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "migrate.json"), JSON.stringify({ rows, helpMs, bareNodeMs }, null, 2));
}

/** A fast wrong answer is no result: after the writing migrate, check must find nothing left. */
async function expectEverySocketMigrated(root: string) {
  const check = await execa(process.execPath, [CLI, "check", "--json"], { cwd: root, reject: false, env: { CI: "true" } });
  const result = JSON.parse(check.stdout) as { ok: boolean; items: unknown[] };
  if (!result.ok) throw new Error(`check after migrate found ${result.items.length} items left in ${root}`);
}

await main();

/**
 * npm run bench:router — the generated router against the public example's naive router, on
 * real `partykit dev` with real partysocket clients, in one run. Prints a table and writes
 * test/bench/results/router.json.
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runDeliveryProbe, type ProbeResult } from "../../src/infra/delivery-probe.js";
import { startPartykitDev } from "../../src/infra/partykit-dev.js";
import { FIXTURES, PARTYKIT_BIN, REPO, copyProject, runCli } from "../helpers/cli.js";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 40);
const SHARDS = 5; // the naive fixture router hard-codes 5
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200);
const FAIL_PERCENTS = [0, 20];

interface Row {
  router: string;
  shards: number;
  failPercent: number;
  result: ProbeResult;
}

async function generatedProject(shards: number): Promise<string> {
  const dir = copyProject("broadcast");
  const init = await runCli(["init", "--yes", "--shards", String(shards)], dir);
  if (init.exitCode !== 0) throw new Error(`init failed: ${init.stderr}`);
  return dir;
}

function naiveProject(): string {
  const dir = copyProject("broadcast");
  copyFileSync(path.join(FIXTURES, "routers", "naive-router.ts"), path.join(dir, "src", "router.ts"));
  const config = { name: "naive", main: "src/main.ts", compatibilityDate: "2024-07-18", parties: { router: "src/router.ts" } };
  writeFileSync(path.join(dir, "partykit.json"), JSON.stringify(config, null, 2));
  return dir;
}

async function measure(project: string, failPercent: number, probes: { label: string; party: string; publishParty?: string }[]) {
  const server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN, vars: { FAIL_PERCENT: String(failPercent) } });
  try {
    const results: Record<string, ProbeResult> = {};
    for (const probe of probes) {
      process.stderr.write(`  ${probe.label}, ${failPercent}% failures…\n`);
      results[probe.label] = await runDeliveryProbe({
        host: server.host,
        party: probe.party,
        publishParty: probe.publishParty,
        room: `bench-${probe.label.replace(/\W+/g, "-")}-${failPercent}`,
        clients: CLIENTS,
        messages: MESSAGES,
        graceMs: 500,
      });
    }
    return results;
  } finally {
    await server.stop();
  }
}

function balance(result: ProbeResult, shards: number): { max: number; mean: number } {
  const counts = Object.values(result.clientsPerRoom);
  while (counts.length < shards) counts.push(0);
  return { max: Math.max(...counts), mean: CLIENTS / shards };
}

const fmt = (n: number, digits = 1) => (Number.isNaN(n) ? "—" : n.toFixed(digits));
const ratioCell = (n: number) => (Number.isNaN(n) ? "—" : `${n.toFixed(2)}x`);

async function main() {
  const rows: Row[] = [];
  let direct: ProbeResult | undefined;
  const setups = [
    { router: "party-shard", shards: SHARDS, project: await generatedProject(SHARDS), failPercents: FAIL_PERCENTS },
    // The router's own cost, without fan-out: one shard.
    { router: "party-shard", shards: 1, project: await generatedProject(1), failPercents: [0] },
    { router: "naive example", shards: SHARDS, project: naiveProject(), failPercents: FAIL_PERCENTS },
  ];
  for (const { router, shards, project, failPercents } of setups) {
    for (const failPercent of failPercents) {
      const label = `${router}, ${shards} shard${shards === 1 ? "" : "s"}`;
      const probes = [{ label, party: "router" }];
      // The baseline: the same clients in one room, one direct broadcast per POST.
      if (!direct) probes.push({ label: "direct", party: "main" });
      const results = await measure(project, failPercent, probes);
      rows.push({ router: label, shards, failPercent, result: results[label]! });
      direct ??= results.direct;
    }
  }

  const header = ["router", "failures", "delivery", "lost", "dupes", "p50 ms", "p99 ms", "p50 / direct", "max/mean clients"];
  const lines = rows.map(({ router, shards, failPercent, result }) => {
    const { max, mean } = balance(result, shards);
    return [
      router,
      `${failPercent}%`,
      fmt(result.deliveryRatio, 3),
      String(result.lost),
      String(result.duplicates),
      fmt(result.latencyMs.p50),
      fmt(result.latencyMs.p99),
      ratioCell(result.latencyMs.p50 / direct!.latencyMs.p50),
      `${max}/${fmt(mean)} = ${fmt(max / mean, 2)}`,
    ];
  });
  const d = direct!;
  lines.push(["direct, 1 room", "0%", fmt(d.deliveryRatio, 3), String(d.lost), String(d.duplicates), fmt(d.latencyMs.p50), fmt(d.latencyMs.p99), "1.00x", "—"]);
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...lines.map((line) => line[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  const table = [row(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(row)].join("\n");

  const ours = rows.filter((r) => r.router.startsWith("party-shard") && r.shards === SHARDS);
  const targets = [
    ["delivery 1.000 at 0% and 20% failures", ours.every((r) => r.result.deliveryRatio === 1 && r.result.duplicates === 0)],
    ["max/mean clients per shard <= 1.05", ours.every((r) => { const b = balance(r.result, SHARDS); return b.max / b.mean <= 1.05; })],
    ["fan-out p50 <= 1.3x direct broadcast", ours[0]!.result.latencyMs.p50 <= 1.3 * d.latencyMs.p50],
  ] as const;
  const cpu = os.cpus()[0]?.model ?? "unknown cpu";
  console.log(`\n${CLIENTS} clients, ${MESSAGES} POSTs per run, one at a time; partykit dev on ${os.cpus().length} cores (${cpu}), Node ${process.version}\n`);
  console.log(table);
  console.log("");
  for (const [target, met] of targets) console.log(`${met ? "met    " : "NOT MET"}  ${target}`);

  const outDir = path.join(REPO, "test", "bench", "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "router.json"), JSON.stringify({ clients: CLIENTS, messages: MESSAGES, rows, direct, targets }, null, 2));
}

await main();

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
  failPercent: number;
  result: ProbeResult;
}

async function generatedProject(): Promise<string> {
  const dir = copyProject("broadcast");
  const init = await runCli(["init", "--yes", "--shards", String(SHARDS)], dir);
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
        room: `bench-${probe.label}-${failPercent}`,
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

function balance(result: ProbeResult): { max: number; mean: number } {
  const counts = Object.values(result.clientsPerRoom);
  while (counts.length < SHARDS) counts.push(0);
  return { max: Math.max(...counts), mean: CLIENTS / SHARDS };
}

const fmt = (n: number, digits = 1) => (Number.isNaN(n) ? "—" : n.toFixed(digits));

async function main() {
  const rows: Row[] = [];
  let direct: ProbeResult | undefined;
  const projects = { "party-shard": await generatedProject(), "naive example": naiveProject() };
  for (const failPercent of FAIL_PERCENTS) {
    for (const [router, project] of Object.entries(projects)) {
      const probes = [{ label: router, party: "router" }];
      // The baseline: the same clients in one room, one direct broadcast per POST.
      if (router === "party-shard" && failPercent === 0) probes.push({ label: "direct", party: "main" });
      const results = await measure(project, failPercent, probes);
      rows.push({ router, failPercent, result: results[router]! });
      direct ??= results.direct;
    }
  }

  const header = ["router", "failures", "delivery", "lost", "dupes", "p50 ms", "p99 ms", "max/mean clients"];
  const lines = rows.map(({ router, failPercent, result }) => {
    const { max, mean } = balance(result);
    return [
      router,
      `${failPercent}%`,
      fmt(result.deliveryRatio, 3),
      String(result.lost),
      String(result.duplicates),
      fmt(result.latencyMs.p50),
      fmt(result.latencyMs.p99),
      `${max}/${fmt(mean)} = ${fmt(max / mean, 2)}`,
    ];
  });
  lines.push(["direct, 1 room", "0%", fmt(direct!.deliveryRatio, 3), String(direct!.lost), String(direct!.duplicates), fmt(direct!.latencyMs.p50), fmt(direct!.latencyMs.p99), "—"]);
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...lines.map((line) => line[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  const table = [row(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(row)].join("\n");

  const ours = rows.find((r) => r.router === "party-shard" && r.failPercent === 0)!.result;
  const ratio = ours.latencyMs.p50 / direct!.latencyMs.p50;
  console.log(`\n${CLIENTS} clients, ${SHARDS} shards, ${MESSAGES} POSTs per run, one at a time; partykit dev on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown cpu"}), Node ${process.version}\n`);
  console.log(table);
  console.log(`\nfan-out p50 vs direct broadcast: ${fmt(ratio, 2)}x`);

  const outDir = path.join(REPO, "test", "bench", "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "router.json"), JSON.stringify({ clients: CLIENTS, shards: SHARDS, messages: MESSAGES, rows, direct, p50VsDirect: ratio }, null, 2));
}

await main();

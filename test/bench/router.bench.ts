/**
 * npm run bench:router — the generated router against the public example's naive router, on
 * real `partykit dev` with real partysocket clients, in one run. Prints a table and writes
 * test/bench/results/router.json.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
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
  /** Frames the leader sent to shards per broadcast (party-shard only). */
  framesPerBroadcast?: number;
}

async function generatedProject(shards: number): Promise<string> {
  const dir = copyProject("broadcast");
  for (const args of [["init", "--yes", "--shards", String(shards), "--shard-target", "1"], ["migrate", "--yes"]]) {
    const result = await runCli(args, dir);
    if (result.exitCode !== 0) throw new Error(`${args[0]} failed: ${result.stderr}`);
  }
  return dir;
}

function naiveProject(): string {
  const dir = copyProject("broadcast");
  copyFileSync(path.join(FIXTURES, "routers", "naive-router.ts"), path.join(dir, "src", "router.ts"));
  const config = { name: "naive", main: "src/main.ts", compatibilityDate: "2024-07-18", parties: { router: "src/router.ts" } };
  writeFileSync(path.join(dir, "partykit.json"), JSON.stringify(config, null, 2));
  return dir;
}

interface Probe {
  label: string;
  /** Where clients connect, and where the POSTs go. */
  party: string;
  /** The router whose load view and leader counts to read (party-shard only). */
  router?: string;
}

async function measure(project: string, failPercent: number, probes: Probe[]) {
  // FAIL_PERCENT: the fixture party fails first attempts; PARTY_SHARD_FAULT_PERCENT: the runtime's own hops.
  const vars = { FAIL_PERCENT: String(failPercent), PARTY_SHARD_FAULT_PERCENT: String(failPercent) };
  const server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN, vars });
  try {
    const results: Record<string, { result: ProbeResult; framesPerBroadcast?: number }> = {};
    for (const probe of probes) {
      process.stderr.write(`  ${probe.label}, ${failPercent}% failures…\n`);
      // A short unmeasured round first: the first requests to a fresh workerd pay for compiling.
      await runDeliveryProbe({ host: server.host, party: probe.party, room: `warm-up-${probe.party}`, publish: { kind: "request", party: probe.party }, clients: 4, messages: 20, graceMs: 200 });
      const room = `bench-${probe.label.replace(/\W+/g, "-")}-${failPercent}`;
      const result = await runDeliveryProbe({
        host: server.host,
        party: probe.party,
        router: probe.router,
        viewToken: server.viewToken,
        room,
        publish: { kind: "request", party: probe.party },
        clients: CLIENTS,
        messages: MESSAGES,
        graceMs: 500,
      });
      let framesPerBroadcast: number | undefined;
      if (probe.router) {
        const view = (await (await fetch(`http://${server.host}/parties/${probe.router}/${room}`, { headers: { "x-party-shard-view-token": server.viewToken } })).json()) as { leader?: { broadcasts: number; shardFrames: number } };
        if (view.leader) framesPerBroadcast = view.leader.shardFrames / view.leader.broadcasts;
      }
      results[probe.label] = { result, framesPerBroadcast };
    }
    return results;
  } finally {
    await server.stop();
    rmSync(project, { recursive: true, force: true });
  }
}

function balance(result: ProbeResult): string {
  if (!result.shardLoad) return "—";
  const max = Math.max(...result.shardLoad);
  const mean = result.shardLoad.reduce((a, b) => a + b, 0) / result.shardLoad.length;
  return `${max}/${fmt(mean)} = ${fmt(max / mean, 2)}`;
}

const fmt = (n: number | null | undefined, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? "—" : n.toFixed(digits));
const ratioCell = (n: number | null, d: number | null) => (n === null || d === null ? "—" : `${(n / d).toFixed(2)}x`);

async function main() {
  const rows: Row[] = [];
  let direct: ProbeResult | undefined;
  const setups = [
    { router: "party-shard", shards: SHARDS, project: () => generatedProject(SHARDS), failPercents: FAIL_PERCENTS },
    // The router's own cost, without fan-out: one shard.
    { router: "party-shard", shards: 1, project: () => generatedProject(1), failPercents: [0] },
    { router: "naive example", shards: SHARDS, project: async () => naiveProject(), failPercents: FAIL_PERCENTS },
  ];
  for (const { router, shards, project, failPercents } of setups) {
    for (const failPercent of failPercents) {
      const label = `${router}, ${shards} shard${shards === 1 ? "" : "s"}`;
      const probes: Probe[] = [{ label, party: "router", router: router === "party-shard" ? "router" : undefined }];
      // The baseline: the same clients in one room, one direct broadcast per POST.
      if (!direct) probes.push({ label: "direct", party: "main" });
      const results = await measure(await project(), failPercent, probes);
      rows.push({ router: label, shards, failPercent, ...results[label]! });
      direct ??= results.direct?.result;
    }
  }

  const d = direct!;
  const header = ["router", "failures", "delivery", "lost", "dupes", "p50 ms", "p99 ms", "p50 / direct", "p99 / direct", "leader frames / broadcast", "max/mean clients"];
  const lines = rows.map(({ router, failPercent, result, framesPerBroadcast }) => [
    router,
    `${failPercent}%`,
    fmt(result.deliveryRatio, 3),
    String(result.lost),
    String(result.duplicates),
    fmt(result.latencyMs.p50),
    fmt(result.latencyMs.p99),
    ratioCell(result.latencyMs.p50, d.latencyMs.p50),
    ratioCell(result.latencyMs.p99, d.latencyMs.p99),
    fmt(framesPerBroadcast, 2),
    balance(result),
  ]);
  lines.push(["direct, 1 room", "0%", fmt(d.deliveryRatio, 3), String(d.lost), String(d.duplicates), fmt(d.latencyMs.p50), fmt(d.latencyMs.p99), "1.00x", "1.00x", "—", "—"]);
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...lines.map((line) => line[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  const table = [row(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(row)].join("\n");

  const ours = rows.filter((r) => r.router.startsWith("party-shard") && r.shards === SHARDS);
  const targets = [
    ["delivery 1.000 at 0% and 20% failures", ours.every((r) => r.result.deliveryRatio === 1 && r.result.duplicates === 0)],
    ["max/mean clients per shard <= 1.05", ours.every((r) => r.result.shardLoad !== undefined && Math.max(...r.result.shardLoad) / (CLIENTS / SHARDS) <= 1.05)],
    ["leader frames per broadcast = shard count", ours.every((r) => r.framesPerBroadcast === SHARDS)],
    ["fan-out p50 <= 1.3x direct broadcast", ours[0]!.result.latencyMs.p50 !== null && ours[0]!.result.latencyMs.p50 <= 1.3 * d.latencyMs.p50!],
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

/**
 * npm run bench:writes — how many writes a second one client gets through a sharded room, on
 * real `partykit dev`, over a loopback proxy that delays every packet 25 ms each way (RTT 50 ms).
 * One writer says WRITES messages in a tight loop to the demo chat; LISTENERS listeners on
 * SHARDS shards each must get every one, once, in order. Rows: routed writes (sendViaRouter,
 * the default), `migrate --writes socket` (socket.send relayed by the shard), and the unsharded
 * demo with the same clients in one room over the same proxy. Prints a table and writes
 * test/bench/results/writes.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { readShardLoad } from "../../src/infra/delivery-probe.js";
import { startPartykitDev, type PartykitDev } from "../../src/infra/partykit-dev.js";
import { PARTYKIT_BIN, REPO, copyDemoApp, runCli } from "../helpers/cli.js";
import { startDelayProxy } from "./delay-proxy.js";

const WRITES = Number(process.env.BENCH_WRITES ?? 300);
const LISTENERS = 8;
const SHARDS = 4;
const DELAY_MS = 25;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
/** Paced runs: a game's input rate, one write every PACE_MS, to see each write's latency. */
const PACED_WRITES = 100;
const PACE_MS = 20;
const DEADLINE_MS = 120_000;

type Client = { say(text: string): void; leave(): void; socket: { addEventListener(type: string, listener: (event: { data: unknown }) => void): void } };
type JoinChat = (options: { host: string; room: string; WebSocket: unknown; onSay: (said: { from: string; text: string }) => void }) => Client;

interface Paced {
  /** From say() until the last listener has the write, in ms. */
  p50: number;
  p99: number;
  lost: number;
}

interface Run {
  writesPerSecond: number;
  seconds: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  shardLoad?: number[];
  /** Frames the leader sent to shards per write (each write is one broadcast). */
  framesPerWrite?: number;
}

interface Mode {
  label: string;
  project: string;
  server: PartykitDev;
  sharded: boolean;
}

async function migratedDemo(writes: "routed" | "socket" | undefined): Promise<string | undefined> {
  const dir = copyDemoApp();
  const steps = [["init", "--yes", "--shards", String(SHARDS), "--shard-target", "1"], ["migrate", "--yes", ...(writes ? ["--writes", writes] : [])]];
  for (const args of steps) {
    const result = await runCli(args, dir);
    if (result.exitCode !== 0) {
      process.stderr.write(`  ${args.join(" ")} failed (exit ${result.exitCode}): ${result.stderr.trim().split("\n")[0]}\n`);
      return undefined;
    }
  }
  return dir;
}

async function measure(mode: Mode, room: string): Promise<Run>;
async function measure(mode: Mode, room: string, paceMs: number): Promise<Paced>;
async function measure(mode: Mode, room: string, paceMs?: number): Promise<Run | Paced> {
  const writes = paceMs === undefined ? WRITES : PACED_WRITES;
  const proxy = await startDelayProxy({ host: "127.0.0.1", port: mode.server.port }, DELAY_MS);
  const { joinChat } = (await import(path.join(mode.project, "app", "chat-client.ts"))) as { joinChat: JoinChat };
  const inboxes = Array.from({ length: LISTENERS }, () => [] as number[]);
  const arrived: number[] = [];
  // Per write: when it was said, how many listeners have it, and when the last one got it.
  const said: number[] = [];
  const heard = new Array<number>(writes).fill(0);
  const done: number[] = [];
  const join = (onSay: (text: string) => void) => {
    const client = joinChat({ host: proxy.host, room, WebSocket, onSay: ({ text }) => onSay(text) });
    // The welcome comes from the party's onConnect: the room knows this client.
    const welcomed = new Promise<void>((resolve) =>
      client.socket.addEventListener("message", (event) => String(event.data).includes('"welcome"') && resolve()),
    );
    return { client, welcomed };
  };
  const listeners = inboxes.map((inbox) =>
    join((text) => {
      const n = Number(text);
      inbox.push(n);
      if (++heard[n]! === LISTENERS) done[n] = performance.now();
      if (inbox.length === writes) arrived.push(performance.now());
    }),
  );
  const writer = join(() => {});
  const everyone = [...listeners, writer];
  try {
    await withDeadline(Promise.all(everyone.map((c) => c.welcomed)), 30_000, "clients did not connect");
    const shardLoad = mode.sharded ? await readShardLoad(proxy.host, "router", room, mode.server.viewToken) : undefined;
    const started = performance.now();
    for (let i = 0; i < writes; i++) {
      if (paceMs !== undefined && i > 0) await sleep(paceMs);
      said[i] = performance.now();
      writer.client.say(String(i));
    }
    const deadline = Date.now() + DEADLINE_MS;
    while (arrived.length < LISTENERS && Date.now() < deadline) await sleep(5);
    const finished = arrived.length === LISTENERS ? Math.max(...arrived) : performance.now();
    await sleep(500); // late duplicates would land here
    if (paceMs !== undefined) {
      const latencies = said.map((at, i) => (done[i] === undefined ? Infinity : done[i]! - at)).sort((a, b) => a - b);
      const pick = (p: number) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)]!;
      return { p50: pick(50), p99: pick(99), lost: inboxes.reduce((sum, inbox) => sum + writes - new Set(inbox).size, 0) };
    }
    let lost = 0;
    let duplicates = 0;
    let outOfOrder = 0;
    for (const inbox of inboxes) {
      const unique = new Set(inbox);
      lost += writes - unique.size;
      duplicates += inbox.length - unique.size;
      for (let i = 1; i < inbox.length; i++) if (inbox[i]! < inbox[i - 1]!) outOfOrder++;
    }
    let framesPerWrite: number | undefined;
    if (mode.sharded) {
      const view = (await (await fetch(`http://${mode.server.host}/parties/router/${room}`, { headers: { "x-party-shard-view-token": mode.server.viewToken } })).json()) as { leader?: { broadcasts: number; shardFrames: number } };
      if (view.leader && view.leader.broadcasts > 0) framesPerWrite = view.leader.shardFrames / view.leader.broadcasts;
    }
    const seconds = (finished - started) / 1000;
    return { writesPerSecond: WRITES / seconds, seconds, lost, duplicates, outOfOrder, shardLoad, framesPerWrite };
  } finally {
    for (const { client } of everyone) client.leave();
    await proxy.close();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main() {
  const servers: PartykitDev[] = [];
  const results: Record<string, Run[]> = {};
  const paced: Record<string, Paced[]> = {};
  try {
    process.stderr.write("preparing projects…\n");
    const direct = copyDemoApp();
    const routed = await migratedDemo(undefined);
    const socket = await migratedDemo("socket");
    if (!routed) throw new Error("init + migrate failed");
    const directServer = await startPartykitDev({ cwd: direct, bin: PARTYKIT_BIN });
    const shardedServer = await startPartykitDev({ cwd: routed, bin: PARTYKIT_BIN });
    servers.push(directServer, shardedServer);
    const modes: Mode[] = [
      { label: "sharded, routed writes (sendViaRouter)", project: routed, server: shardedServer, sharded: true },
      ...(socket ? [{ label: "sharded, --writes socket (socket.send)", project: socket, server: shardedServer, sharded: true }] : []),
      { label: "direct, unsharded room", project: direct, server: directServer, sharded: false },
    ];
    for (const mode of modes) {
      results[mode.label] = [];
      const slug = mode.label.replace(/\W+/g, "-");
      // An unmeasured round first: the first requests to a fresh workerd pay for compiling.
      process.stderr.write(`  ${mode.label}: warm-up…\n`);
      await measure(mode, `warm-${slug}`);
      for (let i = 0; i < REPEATS; i++) {
        const run = await measure(mode, `bench-${slug}-${i}`);
        process.stderr.write(`  ${mode.label}: ${run.writesPerSecond.toFixed(0)} writes/s (${run.seconds.toFixed(2)} s), lost ${run.lost}, dupes ${run.duplicates}, out of order ${run.outOfOrder}\n`);
        results[mode.label]!.push(run);
        const slow = await measure(mode, `paced-${slug}-${i}`, PACE_MS);
        process.stderr.write(`  ${mode.label}, one write every ${PACE_MS} ms: p50 ${slow.p50.toFixed(1)} ms, p99 ${slow.p99.toFixed(1)} ms, lost ${slow.lost}\n`);
        (paced[mode.label] ??= []).push(slow);
      }
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }

  const directRate = median(results["direct, unsharded room"]!.map((r) => r.writesPerSecond));
  const header = ["writes", "writes/s (median)", "runs", "/ direct", "lost", "dupes", "out of order", "leader frames / write", "clients per shard", `latency p50 / p99 at ${1000 / PACE_MS}/s`];
  const lines = Object.entries(results).map(([label, runs]) => {
    const rate = median(runs.map((r) => r.writesPerSecond));
    const sum = (pick: (r: Run) => number) => String(runs.reduce((total, r) => total + pick(r), 0));
    const frames = runs.map((r) => r.framesPerWrite).filter((n): n is number => n !== undefined);
    return [
      label,
      rate.toFixed(0),
      runs.map((r) => r.writesPerSecond.toFixed(0)).join(", "),
      `${(rate / directRate).toFixed(2)}x`,
      sum((r) => r.lost),
      sum((r) => r.duplicates),
      sum((r) => r.outOfOrder),
      frames.length ? median(frames).toFixed(3) : "—",
      runs[0]!.shardLoad?.join("/") ?? "—",
      `${median(paced[label]!.map((r) => r.p50)).toFixed(1)} / ${median(paced[label]!.map((r) => r.p99)).toFixed(1)} ms`,
    ];
  });
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...lines.map((line) => line[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  const table = [row(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(row)].join("\n");

  const sharded = Object.entries(results).filter(([label]) => label.startsWith("sharded"));
  const all = sharded.flatMap(([, runs]) => runs);
  const targets = [
    [">= 60 writes/s per sender, every sharded mode", sharded.every(([, runs]) => median(runs.map((r) => r.writesPerSecond)) >= 60)],
    [">= 0.5x the direct room's rate, every sharded mode", sharded.every(([, runs]) => median(runs.map((r) => r.writesPerSecond)) >= 0.5 * directRate)],
    ["0 lost, 0 duplicated, 0 out of order", all.every((r) => r.lost === 0 && r.duplicates === 0 && r.outOfOrder === 0) && Object.values(paced).flat().every((r) => r.lost === 0)],
  ] as const;
  const cpu = os.cpus()[0]?.model ?? "unknown cpu";
  console.log(`\n1 writer, ${WRITES} writes in a tight loop, ${LISTENERS} listeners, ${SHARDS} shards, ${DELAY_MS} ms each way (RTT ${2 * DELAY_MS} ms) on a loopback proxy;`);
  console.log(`latency: ${PACED_WRITES} writes, one every ${PACE_MS} ms, from say() until all ${LISTENERS} listeners have it (median of the runs' p50 and p99);`);
  console.log(`${REPEATS} runs per row after a warm-up; partykit dev on ${os.cpus().length} cores (${cpu}), Node ${process.version}\n`);
  console.log(table);
  console.log("");
  for (const [target, met] of targets) console.log(`${met ? "met    " : "NOT MET"}  ${target}`);

  const outDir = path.join(REPO, "test", "bench", "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "writes.json"), JSON.stringify({ writes: WRITES, listeners: LISTENERS, shards: SHARDS, delayMs: DELAY_MS, paceMs: PACE_MS, results, paced, targets }, null, 2));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref())]);
}

await main();
process.exit(0);

/**
 * npm run bench:scale — a crowd of real partysocket clients joining one room at once, then W
 * writers broadcasting 5 messages each to everyone, through the router (sharded) and straight to
 * one room of the same server (direct), on `partykit dev` (the bundled demo chat) and on
 * `wrangler dev` (the hono-party chat the live tests use: the bundled PartyServer demo also
 * broadcasts every join to everyone, which would time its O(N²) joins, not the connect path),
 * each after `init --shards SHARDS` and `migrate`. On wrangler dev the crowd then idles 30 s and one more broadcast must reach
 * everyone once. Each room waits for an idle server, and a first crowd of the same size (at most
 * 1,000) on the fresh server is measured apart (cold). Prints the tables and writes test/bench/results/scale.json.
 *
 *   BENCH_CLIENTS=1000,5000   clients per room (a list; default 1000)
 *   BENCH_WRITERS=20,200      writers (a list, 20–200; default 20)
 *   BENCH_SHARDS=4            shards (default 4)
 *   BENCH_PLATFORMS=partykit,partyserver   which dev servers (default both)
 *   BENCH_IDLE_S=30           idle time on wrangler dev (0 skips it)
 *
 * Exits 1 when a delivery target is missed (someone never greeted, a broadcast lost, repeated
 * or out of order, the post-idle broadcast not reaching everyone once). Time ratios and the
 * per-event counts (leader events, storage operations) print MISSED without failing the run:
 * they wait on runtime work still under way and, on one dev process, on the machine.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO } from "../helpers/cli.js";
import { chosenPlatforms, migratedApp, type BenchPlatform } from "./bench-platforms.js";
import { costOf, idleTable, table, targets, type Row } from "./scale-report.js";
import { PER_WRITER, measureRoom } from "./scale-run.js";

const list = (value: string) => value.split(",").map((n) => Number(n.trim())).filter((n) => Number.isInteger(n) && n > 0);
const CLIENTS = list(process.env.BENCH_CLIENTS ?? "1000");
const WRITERS = list(process.env.BENCH_WRITERS ?? "20");
const SHARDS = Number(process.env.BENCH_SHARDS ?? 4);
const IDLE_MS = Number(process.env.BENCH_IDLE_S ?? 30) * 1000;
/**
 * The warm-up crowd's size at most: partykit dev's workerd lets go of a closed room's sockets'
 * descriptors only later, so three warm-up rooms of 5,000 and the measured ones passed this
 * machine's 20,000 and crashed it; 1,000 warms the code as well.
 */
const WARM_CLIENTS = 1_000;

type Platform = BenchPlatform;
const idleMsOf = (platform: Platform) => (platform.evictsIdle ? IDLE_MS : 0);

async function runPlatform(platform: Platform): Promise<{ rows: Row[]; cold: Row[] }> {
  const dir = await migratedApp(platform, ["--shards", String(SHARDS), "--shard-target", "1"]);
  const server = await platform.start(dir);
  const rows: Row[] = [];
  const cold: Row[] = [];
  try {
    const modes = [
      { mode: "sharded" as const, writes: "POST" as const, party: platform.router, router: platform.router },
      // The same, writing on the socket: the writer's shard relays its messages over its link, many a frame.
      { mode: "sharded" as const, writes: "socket" as const, party: platform.router, router: platform.router },
      { mode: "direct" as const, writes: null, party: platform.party, router: undefined },
    ];
    // A round of the same size first (at most WARM_CLIENTS), printed apart (cold), not held to the
    // targets: the first crowd on a fresh server also pays for compiling the sharded code and for
    // growing workerd's heap and the bench's (in one run the first sharded row took 2.00× direct,
    // the second 1.51×, the same connects). A deploy's reconnect storm meets such a cold isolate.
    const warm = Math.min(WARM_CLIENTS, ...CLIENTS);
    for (const { mode, writes, party, router } of modes) {
      const measured = await measureRoom({ server, party, router, socketWrites: writes === "socket", query: platform.query, viewVia: platform.router, room: `warm-${mode}-${writes}`, clients: warm, writers: 2, idleMs: 0 });
      cold.push({ platform: platform.label, mode, writes, shards: mode === "sharded" ? SHARDS : null, clients: warm, writers: 2, ...measured });
    }
    for (const clients of CLIENTS) {
      for (const writers of WRITERS) {
        for (const { mode, writes, party, router } of modes) {
          process.stderr.write(`  ${platform.label}, ${mode}${writes === "socket" ? ", socket writes" : ""}, ${clients} clients, ${writers} writers…\n`);
          const room = `scale-${mode}-${writes}-${clients}-${writers}`;
          const measured = await measureRoom({ server, party, router, socketWrites: writes === "socket", query: platform.query, viewVia: platform.router, room, clients, writers, idleMs: idleMsOf(platform) });
          rows.push({ platform: platform.label, mode, writes, shards: mode === "sharded" ? SHARDS : null, clients, writers, ...measured });
        }
      }
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, cold };
}

/**
 * The process's own open-file limit (node raises its soft limit to the hard one as it starts,
 * for itself only); the crowd needs a descriptor a socket.
 */
function openFileLimit(): number {
  return Number(/Max open files\s+(\d+)/.exec(readFileSync("/proc/self/limits", "utf8"))?.[1] ?? Infinity);
}

/** What the environment asks for, refused before anything starts when it cannot run. */
function checkedPlatforms(): Platform[] {
  const platforms = chosenPlatforms();
  if (CLIENTS.length === 0 || WRITERS.length === 0 || !Number.isInteger(SHARDS) || SHARDS < 1) throw new Error("BENCH_CLIENTS, BENCH_WRITERS and BENCH_SHARDS are positive integers");
  if (Math.max(...WRITERS) > Math.min(...CLIENTS)) throw new Error("BENCH_WRITERS: more writers than clients");
  if (Math.max(...CLIENTS) + 200 > openFileLimit()) throw new Error(`${Math.max(...CLIENTS)} sockets need more than this process's ${openFileLimit()} open files (ulimit -Hn)`);
  return platforms;
}

async function main() {
  const chosen = checkedPlatforms();
  const load = os.loadavg()[0]!.toFixed(1);
  const rows: Row[] = [];
  const cold: Row[] = [];
  for (const platform of chosen) {
    const ran = await runPlatform(platform);
    rows.push(...ran.rows);
    cold.push(...ran.cold);
  }
  const { user, system } = process.cpuUsage();

  const cpu = os.cpus()[0]?.model.trim() ?? "unknown cpu";
  console.log(`\n${CLIENTS.join(", ")} clients joining at once; writers × ${PER_WRITER} broadcasts each to everyone (the chats send each to everyone but its writer); ${SHARDS} shards.`);
  console.log(`One dev server per platform, ${os.cpus().length} cores (${cpu}), load average ${load} → ${os.loadavg()[0]!.toFixed(1)}, Node ${process.version}; the bench's own CPU ${((user + system) / 1e6).toFixed(1)} s.\n`);
  console.log(table(rows));
  console.log(`\nThe first crowd on each fresh server (cold, 2 writers; not held to the targets):\n\n${table(cold)}`);
  for (const row of rows.filter((r) => r.reconnects > 0 || r.connectErrors > 0 || r.failedWrites > 0)) {
    const p99 = row.greetP99Ms === null ? "" : `, 99 % greeted in ${(row.greetP99Ms / 1000).toFixed(2)} s`;
    console.log(`${row.platform}, ${row.mode}, ${row.clients} clients: ${row.connectErrors} connects failed or timed out and were retried, ${row.reconnects} reconnects${p99}, ${row.failedWrites} writes sendViaRouter gave up on`);
  }
  const idle = idleTable(rows);
  if (idle) console.log(`\nAfter the writes, every client connected and silent:\n\n${idle}`);
  const list = targets(rows);
  console.log("");
  for (const target of list) console.log(`${target.status === "met" ? "met   " : target.status === "MISSED" ? "MISSED" : "—     "}  ${target.text}`);
  const costs = rows.filter((row) => row.mode === "sharded").map((row) => ({ row: `${row.platform}, ${row.clients} clients, ${row.writers} writers${row.writes === "socket" ? " on their sockets" : ""}`, ...costOf(row) }));
  for (const cost of costs) console.log(`\nA month on Durable Objects (docs/cost.md) from the counts of ${cost.row}:\n${cost.inputs}\n\n${cost.table}`);

  const outDir = path.join(REPO, "test", "bench", "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "scale.json"), JSON.stringify({ shards: SHARDS, perWriter: PER_WRITER, cpu, cores: os.cpus().length, node: process.version, rows, cold, targets: list, costs }, null, 2));
  process.exitCode = list.some((target) => target.delivery && target.status !== "met") ? 1 : 0;
}

await main();
// Keep-alive connections and partysocket timers would hold the process open.
process.exit(process.exitCode);

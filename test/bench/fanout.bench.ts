/**
 * npm run bench:fanout — what one broadcast costs the leader, by the number of clients on its
 * shards. The real LeaderCore (src/runtime/leader.ts) on a fake room whose links only count what
 * they are sent: a woken leader learns CLIENTS clients from SHARDS shards' hellos, then the party
 * broadcasts BROADCASTS times to everyone, and as many times to everyone but one client. Prints
 * a table (microseconds of the leader's own work per broadcast, frames per broadcast) and writes
 * test/bench/results/fanout.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { LinkEnd } from "../../src/runtime/host.js";
import { LeaderCore } from "../../src/runtime/leader.js";
import { leaderHostWith } from "../helpers/leader-host.js";

const SHARDS = 8;
const CLIENT_COUNTS = [1_000, 10_000, 100_000];
const BROADCASTS = Number(process.env.BENCH_BROADCASTS ?? 2_000);
/** The target: a broadcast's cost must not grow with the clients behind the shards. */
const MAX_GROWTH = 3;

interface Row {
  clients: number;
  everyoneUs: number;
  allButOneUs: number;
  framesPerBroadcast: number;
}

async function measure(clients: number): Promise<Row> {
  let frames = 0;
  const links = Array.from({ length: SHARDS }, (_, i): LinkEnd => ({ id: `party-shard-link-${i + 1}-bench`, readyState: 1, send: () => void frames++, close() {} }));
  const core = new LeaderCore(leaderHostWith(links, "bench"), {});
  await core.start();
  const kept = { state: null, attachment: null, tags: [] };
  for (const [i, link] of links.entries()) {
    const ids = Array.from({ length: Math.ceil(clients / SHARDS) }, (_, n) => `c${i}-${n}`);
    const hello = { t: "hello", room: "bench", incarnation: `shard-${i + 1}`, acked: 0, clients: ids.map((id) => ({ id, uri: "http://bench/parties/main/bench", key: null, kept })), left: [] };
    await core.onLinkFrame(link, JSON.stringify(hello));
  }
  const time = (without: string[]) => {
    for (let i = 0; i < 100; i++) core.broadcast("warm-up", without);
    frames = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < BROADCASTS; i++) core.broadcast(`message ${i}`, without);
    return Number(process.hrtime.bigint() - start) / 1_000 / BROADCASTS;
  };
  const everyoneUs = time([]);
  const framesPerBroadcast = frames / BROADCASTS;
  const allButOneUs = time(["c0-0"]);
  return { clients, everyoneUs, allButOneUs, framesPerBroadcast };
}

const rows: Row[] = [];
for (const clients of CLIENT_COUNTS) rows.push(await measure(clients));
const table = [
  "| clients on shards | µs per broadcast, to everyone | µs, to all but one | frames per broadcast |",
  "|-------------------|-------------------------------|--------------------|----------------------|",
  ...rows.map((row) => `| ${String(row.clients).padEnd(17)} | ${row.everyoneUs.toFixed(1).padEnd(29)} | ${row.allButOneUs.toFixed(1).padEnd(18)} | ${row.framesPerBroadcast.toFixed(1).padEnd(20)} |`),
];
console.log(`\n${BROADCASTS} broadcasts per row, ${SHARDS} shards, the leader's own work (links only count frames); Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()})\n`);
console.log(table.join("\n"));
const growth = rows.at(-1)!.everyoneUs / rows[0]!.everyoneUs;
const met = growth <= MAX_GROWTH && rows.every((row) => row.framesPerBroadcast === SHARDS);
console.log(`\n${met ? "met    " : "MISSED "} a broadcast to ${rows.at(-1)!.clients} clients costs ${growth.toFixed(1)}x one to ${rows[0]!.clients} (at most ${MAX_GROWTH}x), one frame per shard`);
const results = path.join(import.meta.dirname, "results");
mkdirSync(results, { recursive: true });
writeFileSync(path.join(results, "fanout.json"), JSON.stringify({ shards: SHARDS, broadcasts: BROADCASTS, rows }, null, 2));
process.exitCode = met ? 0 : 1;

/**
 * The tables and target lines `npm run bench:scale` prints. A number the run could not measure
 * (a counter the runtime does not report yet, a time that never ended) is "—".
 */
import { DOC_ROOMS, costTable, shardedLayout, unshardedLayout } from "../../src/core/capacity/cost-model.js";
import type { Measured } from "./scale-run.js";

export interface Row extends Measured {
  platform: string;
  mode: "sharded" | "direct";
  /** Sharded: how clients write, with sendViaRouter (POST, what migrate makes) or on their socket (`--writes socket`). */
  writes: "POST" | "socket" | null;
  shards: number | null;
  clients: number;
  writers: number;
}

export interface Target {
  text: string;
  status: "met" | "MISSED" | "—";
  /** A delivery target: missing it fails the run. */
  delivery: boolean;
}

const fmt = (n: number | null | undefined, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? "—" : n.toFixed(digits));
const seconds = (ms: number | null, direct: number | null | undefined) => (ms === null ? "—" : `${(ms / 1000).toFixed(2)} s${direct ? ` (${(ms / direct).toFixed(2)}×)` : ""}`);

/** The direct row measured beside a sharded one. */
function directOf(rows: Row[], row: Row): Row | undefined {
  return rows.find((r) => r.mode === "direct" && r.platform === row.platform && r.clients === row.clients && r.writers === row.writers);
}

/** The mode column: sharded writes by POST (the default) or on the socket. */
function modeOf(row: Row): string {
  return row.writes === "socket" ? "sharded, socket writes" : row.mode;
}

function balance(clients: number[] | undefined): string {
  if (!clients || clients.length === 0) return "—";
  const mean = clients.reduce((a, b) => a + b, 0) / clients.length;
  return `${clients.join("/")} (max/mean ${fmt(Math.max(...clients) / mean, 2)})`;
}

export function table(rows: Row[]): string {
  const header = ["platform", "mode", "shards", "clients", "writers", "all greeted", "delivery", "dupes", "out of order", "full delivery", "p50 ms", "p99 ms", "POSTs / write", "leader events / write", "storage ops / write", "storage ops / connect", "clients per shard"];
  const lines = rows.map((row) => {
    const direct = row.mode === "sharded" ? directOf(rows, row) : undefined;
    return [
      row.platform, modeOf(row), row.shards === null ? "—" : String(row.shards), String(row.clients), String(row.writers),
      row.greetMs === null ? `${row.greeted}/${row.clients} by deadline` : seconds(row.greetMs, direct?.greetMs),
      fmt(row.deliveryRatio, 3), String(row.duplicates), String(row.outOfOrder),
      seconds(row.fullDeliveryMs, direct?.fullDeliveryMs), fmt(row.p50Ms), fmt(row.p99Ms),
      fmt(row.postsPerWrite, 2), fmt(row.leaderEventsPerWrite, 2), fmt(row.storageOpsPerWrite, 2), fmt(row.storageOpsPerConnect, 2),
      row.mode === "sharded" ? balance(row.shardClients) : "—",
    ];
  });
  return markdown(header, lines);
}

export function idleTable(rows: Row[]): string {
  const idle = rows.filter((row) => row.idle);
  if (idle.length === 0) return "";
  const yesNo = (evicted: boolean | undefined) => (evicted === undefined ? "—" : evicted ? "evicted" : "kept");
  const lines = idle.map((row) => {
    const { evicted, seconds: s, nextDelivery, nextDuplicates } = row.idle!;
    const shards = evicted.shards ? evicted.shards.map((e, i) => `${i + 1}: ${yesNo(e)}`).join(", ") : "—";
    const objects = row.mode === "sharded" ? [yesNo(evicted.placement), yesNo(evicted.leader), shards] : ["—", yesNo(evicted.leader), "—"];
    return [row.platform, modeOf(row), String(row.clients), `${s} s`, ...objects, `${fmt(nextDelivery, 3)}, ${nextDuplicates} dupes`];
  });
  return markdown(["platform", "mode", "clients", "idle", "placement room", "leader (direct: the room)", "shards", "next broadcast: delivery"], lines);
}

function markdown(header: string[], lines: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((line) => line[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  return [row(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...lines.map(row)].join("\n");
}

/** The issue's targets, for each sharded row against its direct row. */
export function targets(rows: Row[]): Target[] {
  return rows.filter((row) => row.mode === "sharded").flatMap((row) => {
    const direct = directOf(rows, row);
    const at = `${row.platform}, ${row.clients} clients, ${row.writers} writers${row.writes === "socket" ? " on their sockets" : ""}:`;
    const within = (ms: number | null, base: number | null | undefined) => (ms === null || !base ? "—" : ms <= 1.5 * base ? "met" : "MISSED");
    const ratio = (ms: number | null, base: number | null | undefined) => (ms === null || !base ? "" : ` (${(ms / base).toFixed(2)}×)`);
    const delivered = row.greeted === row.clients && row.deliveryRatio === 1 && row.duplicates === 0 && row.outOfOrder === 0;
    const list: Target[] = [
      { text: `${at} everyone greeted within 1.5× direct${ratio(row.greetMs, direct?.greetMs)}`, status: within(row.greetMs, direct?.greetMs), delivery: false },
      { text: `${at} full delivery within 1.5× direct${ratio(row.fullDeliveryMs, direct?.fullDeliveryMs)}`, status: within(row.fullDeliveryMs, direct?.fullDeliveryMs), delivery: false },
      { text: `${at} every client greeted, delivery 1.000, no duplicates, order kept`, status: delivered ? "met" : "MISSED", delivery: true },
      ...countTargets(row, at),
    ];
    if (row.idle) {
      const once = row.idle.nextDelivery === 1 && row.idle.nextDuplicates === 0;
      list.push({ text: `${at} after ${row.idle.seconds} s idle the next broadcast reaches everyone once`, status: once ? "met" : "MISSED", delivery: true });
    }
    return list;
  });
}

/** Targets on counts the runtime is still being given: "—" until it reports them. */
function countTargets(row: Row, at: string): Target[] {
  const check = (n: number | undefined, ok: (n: number) => boolean) => (n === undefined ? "—" : ok(n) ? "met" : "MISSED");
  const list: Target[] = [];
  if (row.writers >= 20) list.push({ text: `${at} leader events per client write <= 0.2 (${fmt(row.leaderEventsPerWrite, 2)})`, status: check(row.leaderEventsPerWrite, (n) => n <= 0.2), delivery: false });
  list.push({ text: `${at} storage ops per message 0 on the write path (${fmt(row.storageOpsPerWrite, 2)})`, status: check(row.storageOpsPerWrite, (n) => n === 0), delivery: false });
  list.push({ text: `${at} storage ops per connect <= 1 (${fmt(row.storageOpsPerConnect, 2)})`, status: check(row.storageOpsPerConnect, (n) => n <= 1), delivery: false });
  return list;
}

/** Shards and leader not evicted after the idle spell (wrangler dev), when the view could tell for each. */
function awakeAfterIdle(row: Row): number | undefined {
  const evicted = row.idle?.evicted;
  if (!evicted?.shards || evicted.leader === undefined) return undefined;
  return evicted.shards.filter((gone) => !gone).length + (evicted.leader ? 0 : 1);
}

/**
 * The month of the docs' rooms from one sharded row's counts. POSTs per write is 1: a client
 * writing once a second sends each write alone (the bench's bursts of 5 share requests).
 */
export function costOf(row: Row): { inputs: string; table: string } {
  const socket = row.writes === "socket";
  const counts = {
    shards: row.shards ?? 1,
    postsPerWrite: socket ? 0 : 1,
    writesVia: socket ? ("socket" as const) : ("POST" as const),
    shardRequestsPerPost: row.shardRequestsPerPost,
    leaderEventsPerWrite: row.leaderEventsPerWrite,
    linkFramesInPerWrite: row.linkFramesInPerWrite,
    linkFramesOutPerWrite: row.linkFramesOutPerWrite,
    storageOpsPerWrite: row.storageOpsPerWrite,
    linkFramesInPerConnect: row.linkFramesInPerConnect,
    linkFramesOutPerConnect: row.linkFramesOutPerConnect,
    storageOpsPerConnect: row.storageOpsPerConnect,
    awakeWhenIdle: awakeAfterIdle(row),
  };
  const shown = (n: number | undefined, otherwise: string) => (n === undefined ? `— (${otherwise})` : fmt(n, 2));
  const inputs = [
    socket ? "writes on the clients' sockets (0 POSTs)" : `POSTs / write 1 (measured in bursts of 5: ${fmt(row.postsPerWrite, 2)}); shard requests / POST ${shown(counts.shardRequestsPerPost, "2")}`,
    `leader events / write ${shown(counts.leaderEventsPerWrite, "1 per POST")}`,
    `link frames / write: in ${shown(counts.linkFramesInPerWrite, "0")}, out ${shown(counts.linkFramesOutPerWrite, "0")}`,
    `link frames / connect: in ${shown(counts.linkFramesInPerConnect, "0")}, out ${shown(counts.linkFramesOutPerConnect, "0")}`,
    `storage ops / write ${shown(counts.storageOpsPerWrite, "0")}, / connect ${shown(counts.storageOpsPerConnect, "0")}`,
    `objects awake when idle ${shown(counts.awakeWhenIdle, `${counts.shards}: every shard`)}`,
  ].join("; ");
  return { inputs, table: costTable(DOC_ROOMS, [unshardedLayout(), shardedLayout(counts)]) };
}

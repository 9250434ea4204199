/**
 * npm run bench:elastic — one room grows from 3 clients to BENCH_PEAK and back to 3, in steps,
 * on `partykit dev` and `wrangler dev` (bench-platforms.ts), after `init --shards SHARDS
 * --shard-target TARGET` and `migrate`. At each step the bench reads the load view (shards in
 * use, clients per shard), then one client writes 5 messages through the router
 * (sendViaRouter, as migrated clients write), which the party broadcasts to everyone else.
 * Prints a table and writes test/bench/results/elastic.json.
 *
 *   BENCH_PEAK=2000            the most clients (default 2000)
 *   BENCH_TARGET=250           clients a shard before the next opens (default 250)
 *   BENCH_SHARDS=16            the most shards (default 16)
 *   BENCH_PLATFORMS=partykit,partyserver
 *
 * Clients leave at random (but the first three, one of which writes). Targets: at the peak,
 * clients on ⌈peak / target⌉ shards (±1) within 1.05 of even; back at 3 clients, 1–2 shards in
 * use and holding them; delivery 1.000 with no duplicate at every step; no client the bench
 * kept is disconnected. Exits 1 when one is missed.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PartySocket } from "partysocket";
import { routerClient, shardKey } from "party-shard/client";
import WebSocket from "ws";
import { REPO } from "../helpers/cli.js";
import { chosenPlatforms, migratedApp, type BenchPlatform } from "./bench-platforms.js";

const PEAK = Number(process.env.BENCH_PEAK ?? 2_000);
const TARGET = Number(process.env.BENCH_TARGET ?? 250);
const SHARDS = Number(process.env.BENCH_SHARDS ?? 16);
const PER_ROUND = 5;
const STEPS = [3, PEAK / 8, PEAK / 4, PEAK / 2, (PEAK * 3) / 4, PEAK, PEAK / 2, PEAK / 4, PEAK / 20, 3].map((n) => Math.max(3, Math.round(n)));

/** ws without permessage-deflate, in the shape partysocket constructs. */
class PlainWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { perMessageDeflate: false });
  }
}

interface Member {
  socket: PartySocket;
  greeted: boolean;
  /** The bench closed it. */
  closing: boolean;
  /** Per round, the sequence numbers received. */
  got: Map<number, number[]>;
}

interface Step {
  clients: number;
  /** Shards the next client may go to (the load view's inUse). */
  inUse: number;
  load: number[];
  delivery: number;
  duplicates: number;
  fullDeliveryMs: number;
}

/** The room's clients, index 0 first: it joins first, leaves last, and writes every round. */
class Room {
  readonly members: Member[] = [];
  /** Close events the bench did not ask for: a client disconnected. */
  drops = 0;
  private readonly send: (socket: PartySocket, text: string) => Promise<unknown>;

  constructor(
    private readonly host: string,
    private readonly platform: BenchPlatform,
    readonly room: string,
  ) {
    this.send = routerClient(platform.router).sendViaRouter;
  }

  grow(to: number) {
    while (this.members.length < to) {
      const i = this.members.length;
      const member: Member = { socket: undefined as unknown as PartySocket, greeted: false, closing: false, got: new Map() };
      const user = { ...this.platform.query, user: `e${i}` };
      member.socket = new PartySocket({
        host: this.host,
        party: this.platform.router,
        room: this.room,
        id: `e${i}`,
        query: shardKey(user),
        WebSocket: PlainWebSocket as unknown as typeof globalThis.WebSocket,
        connectionTimeout: 120_000,
      });
      member.socket.addEventListener("message", (event: MessageEvent) => this.onFrame(member, String(event.data)));
      member.socket.addEventListener("close", () => {
        if (!member.closing) this.drops++;
      });
      this.members.push(member);
    }
  }

  /** Clients leave at random, but the first three (the writer among them): their closes are the bench's own. */
  shrink(to: number) {
    while (this.members.length > to) {
      const at = to < 3 ? this.members.length - 1 : 3 + Math.floor(Math.random() * (this.members.length - 3));
      const [member] = this.members.splice(at, 1);
      member!.closing = true;
      member!.socket.close();
    }
  }

  private onFrame(member: Member, data: string) {
    if (data.includes('"type":"welcome"')) member.greeted = true;
    const said = /"text":"r(\d+):(\d+)"/.exec(data);
    if (!said) return;
    const round = Number(said[1]);
    const list = member.got.get(round) ?? [];
    list.push(Number(said[2]));
    member.got.set(round, list);
  }

  /** Member 0 writes PER_ROUND messages; everyone else must get each once. */
  async round(id: number): Promise<Pick<Step, "delivery" | "duplicates" | "fullDeliveryMs">> {
    const started = performance.now();
    for (let seq = 0; seq < PER_ROUND; seq++) void this.send(this.members[0]!.socket, `r${id}:${seq}`).catch(() => undefined);
    const others = this.members.slice(1);
    const expected = others.length * PER_ROUND;
    const received = () => others.reduce((sum, member) => sum + new Set(member.got.get(id) ?? []).size, 0);
    const deadline = started + 60_000;
    while (received() < expected && performance.now() < deadline) await sleep(20);
    const fullDeliveryMs = performance.now() - started;
    await sleep(500); // late duplicates
    const duplicates = others.reduce((sum, member) => sum + (member.got.get(id)?.length ?? 0) - new Set(member.got.get(id) ?? []).size, 0);
    return { delivery: expected === 0 ? 1 : received() / expected, duplicates, fullDeliveryMs };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string) {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function runPlatform(platform: BenchPlatform): Promise<{ steps: Step[]; dropped: number }> {
  const dir = await migratedApp(platform, ["--shards", String(SHARDS), "--shard-target", String(TARGET)]);
  const server = await platform.start(dir);
  const room = new Room(server.host, platform, `elastic-${Date.now().toString(36)}`);
  const view = async () => (await (await fetch(`http://${server.host}/parties/${platform.router}/${room.room}`, { headers: { "x-party-shard-view-token": server.viewToken } })).json()) as { load: number[]; inUse: number };
  const steps: Step[] = [];
  try {
    for (const [i, clients] of STEPS.entries()) {
      process.stderr.write(`  ${platform.label}: ${clients} clients…\n`);
      if (clients > room.members.length) room.grow(clients);
      else room.shrink(clients);
      await until(() => room.members.every((member) => member.greeted), 180_000, `${clients} clients greeted`);
      await until(async () => (await view()).load.reduce((a, b) => a + b, 0) === clients, 30_000, `the load view to count ${clients}`);
      const { load, inUse } = await view();
      steps.push({ clients, inUse, load, ...(await room.round(i)) });
    }
  } finally {
    room.shrink(0);
    await sleep(500);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { steps, dropped: room.drops };
}

function table(label: string, steps: Step[]): string {
  const lines = [
    `| ${label.padEnd(12)} | clients | shards holding clients | clients per shard                   | max/mean | shards the next client may use | delivery | dupes | full delivery |`,
    "|--------------|---------|------------------------|-------------------------------------|----------|--------------------------------|----------|-------|---------------|",
  ];
  for (const step of steps) {
    const held = step.load.filter((n) => n > 0);
    const spread = held.length === 0 ? "—" : (Math.max(...held) / (held.reduce((a, b) => a + b) / held.length)).toFixed(2);
    const shown = step.load.slice(0, step.load.findLastIndex((n) => n > 0) + 1).join("/");
    lines.push(`| ${"".padEnd(12)} | ${String(step.clients).padEnd(7)} | ${String(held.length).padEnd(22)} | ${shown.padEnd(35)} | ${spread.padEnd(8)} | ${String(step.inUse).padEnd(30)} | ${step.delivery.toFixed(3).padEnd(8)} | ${String(step.duplicates).padEnd(5)} | ${`${(step.fullDeliveryMs / 1000).toFixed(2)} s`.padEnd(13)} |`);
  }
  return lines.join("\n");
}

const held = (step: Step) => step.load.filter((n) => n > 0).length;
const spread = (step: Step) => Math.max(...step.load) / (step.clients / held(step));

function targets(label: string, steps: Step[], dropped: number): { text: string; met: boolean }[] {
  const peak = steps.find((step) => step.clients === PEAK)!;
  const want = Math.min(SHARDS, Math.ceil(PEAK / TARGET));
  const last = steps[steps.length - 1]!;
  return [
    { text: `${label}: ${PEAK} clients on ${want} ± 1 shards (${held(peak)}), within 1.05 of even (${spread(peak).toFixed(2)})`, met: Math.abs(held(peak) - want) <= 1 && spread(peak) <= 1.05 },
    { text: `${label}: back at ${last.clients} clients, 1–2 shards in use (${last.inUse}) and holding clients (${held(last)})`, met: last.inUse >= 1 && last.inUse <= 2 && held(last) <= 2 },
    { text: `${label}: delivery 1.000, no duplicates, at every step`, met: steps.every((step) => step.delivery === 1 && step.duplicates === 0) },
    { text: `${label}: no client disconnected by a resize (${dropped})`, met: dropped === 0 },
  ];
}

async function main() {
  const platforms = chosenPlatforms();
  if (![PEAK, TARGET, SHARDS].every((n) => Number.isInteger(n) && n > 0) || PEAK < 40) throw new Error("BENCH_PEAK (≥ 40), BENCH_TARGET and BENCH_SHARDS are positive integers");
  const load = os.loadavg()[0]!.toFixed(1);
  const results = [];
  for (const platform of platforms) results.push({ platform: platform.label, ...(await runPlatform(platform)) });
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown cpu";
  console.log(`\nOne room, 3 → ${PEAK} → 3 clients; at most ${SHARDS} shards, ${TARGET} clients a shard; at each step one client writes ${PER_ROUND} messages through the router, broadcast to everyone else.`);
  console.log(`${os.cpus().length} cores (${cpu}), load average ${load} → ${os.loadavg()[0]!.toFixed(1)}, Node ${process.version}.\n`);
  const list = results.flatMap((result) => targets(result.platform, result.steps, result.dropped));
  for (const result of results) console.log(`${table(result.platform, result.steps)}\n`);
  for (const target of list) console.log(`${target.met ? "met   " : "MISSED"}  ${target.text}`);
  const outDir = path.join(REPO, "test", "bench", "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "elastic.json"), JSON.stringify({ peak: PEAK, target: TARGET, shards: SHARDS, cpu, node: process.version, results, targets: list }, null, 2));
  process.exitCode = list.every((target) => target.met) ? 0 : 1;
}

await main();
// Keep-alive connections and partysocket timers would hold the process open.
process.exit(process.exitCode);

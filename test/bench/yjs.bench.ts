/**
 * npm run bench:yjs — how long a Yjs document takes to reach CLIENTS clients that join at once,
 * sharded against direct, on real `partykit dev` with y-partykit's own provider (the fixture app
 * test/fixtures/yjs/partykit). One writer puts a document of each size in the room; then CLIENTS
 * providers connect together and the clock stops when every one holds the whole text. Rows: the
 * app after `init --shards SHARDS` + `migrate` (providers through the router), and the same app
 * unsharded (providers straight to the room). Prints a table and writes test/bench/results/yjs.json.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import type * as Y from "yjs";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";
import { startPartykitDev } from "../../src/infra/partykit-dev.js";
import { FIXTURES, PARTYKIT_BIN, REPO, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const SHARDS = 4;
const SIZES_MB = (process.env.BENCH_SIZES_MB ?? "1,5").split(",").map(Number);
const DEADLINE_MS = 300_000;

interface Editor {
  doc: Y.Doc;
  text: Y.Text;
  provider: { synced: boolean; awareness: { destroy(): void }; destroy(): void };
}
type OpenEditor = (host: string, room: string, WebSocketPolyfill: unknown) => Editor;

interface Row {
  app: string;
  documentMB: number;
  clients: number;
  syncSeconds: number;
  synced: number;
}

/** Polls every 20 ms, the resolution of the times below (test/helpers/wait.ts's until polls every 50). */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
  return done();
}

async function measure(app: string, sharded: boolean): Promise<Row[]> {
  const dir = tempDir(`bench-yjs-${sharded ? "sharded" : "direct"}`);
  const rows: Row[] = [];
  try {
    cpSync(path.join(FIXTURES, "yjs", "partykit"), dir, { recursive: true });
    linkNodeModules(dir, REPO);
    if (sharded) {
      for (const args of [["init", "--yes", "--shards", String(SHARDS), "--shard-target", "1"], ["migrate", "--yes"]]) {
        const result = await runCli(args, dir);
        if (result.exitCode !== 0) throw new Error(`${args[0]}: ${result.stderr}`);
      }
    }
    const { openEditor } = (await import(path.join(dir, "app", "editor.ts"))) as { openEditor: OpenEditor };
    const server = await startPartykitDev({ cwd: dir, bin: PARTYKIT_BIN });
    const editors: Editor[] = [];
    const open = (room: string) => {
      const editor = openEditor(server.host, room, WebSocket);
      editors.push(editor);
      return editor;
    };
    try {
      for (const mb of SIZES_MB) {
        const room = `doc-${mb}mb`;
        const writer = open(room);
        if (!(await until(() => writer.provider.synced, 30_000))) throw new Error("the writer did not sync");
        // In 512 KiB updates: the dev server takes a client's message up to 1 MiB.
        const length = mb * 1_048_576;
        for (let at = 0; at < length; at += 524_288) writer.text.insert(at, "x".repeat(Math.min(524_288, length - at)));
        const readers = Array.from({ length: CLIENTS }, () => open(room));
        const start = Date.now();
        await until(() => readers.every((reader) => reader.text.length === length), DEADLINE_MS);
        const syncSeconds = (Date.now() - start) / 1000;
        const synced = readers.filter((reader) => reader.text.length === length).length;
        rows.push({ app, documentMB: mb, clients: CLIENTS, syncSeconds, synced });
        console.log(`  ${app}, ${mb} MB: ${synced}/${CLIENTS} clients in ${syncSeconds.toFixed(1)} s`);
        for (const editor of editors.splice(0)) {
          editor.provider.destroy();
          editor.provider.awareness.destroy();
        }
      }
    } finally {
      for (const editor of editors) {
        editor.provider.destroy();
        editor.provider.awareness.destroy();
      }
      await server.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

const rows = [...(await measure(`sharded (${SHARDS} shards)`, true)), ...(await measure("direct, unsharded room", false))];
const table = [
  "| app                    | document | clients joining at once | all synced in | synced  |",
  "|------------------------|----------|-------------------------|---------------|---------|",
  ...rows.map((row) => `| ${row.app.padEnd(22)} | ${`${row.documentMB} MB`.padEnd(8)} | ${String(row.clients).padEnd(23)} | ${`${row.syncSeconds.toFixed(1)} s`.padEnd(13)} | ${`${row.synced}/${row.clients}`.padEnd(7)} |`),
];
console.log(`\ny-partykit on partykit dev, one process for every room; Node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()})\n`);
console.log(table.join("\n"));
const everyone = rows.every((row) => row.synced === row.clients);
console.log(`\n${everyone ? "met    " : "MISSED "} every client holds the whole document, sharded and direct`);
const results = path.join(import.meta.dirname, "results");
mkdirSync(results, { recursive: true });
writeFileSync(path.join(results, "yjs.json"), JSON.stringify({ shards: SHARDS, rows }, null, 2));
process.exitCode = everyone ? 0 : 1;

/**
 * npm run bench:migrate — synthetic PartyKit apps of 2,000 and 20,000 files (200 of them with
 * sockets, in several patterns; the rest ordinary code, some with non-socket `.send` calls),
 * timing `migrate --dry-run`, `check`, `migrate` and `tsc --noEmit` on the same tree, and
 * `party-shard --help`. Prints a table and writes test/bench/results/migrate.json.
 */
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { CLI, REPO, runCli } from "../helpers/cli.js";

const SIZES = (process.env.BENCH_SIZES ?? "2000,20000").split(",").map(Number);
const SOCKET_FILES = 200;

const SOCKET_PATTERNS = [
  (i: number) => `import PartySocket from "partysocket";\n\nconst socket = new PartySocket({ host: "localhost:1999", room: "r${i}" });\nexport function say${i}(text: string) {\n  socket.send(text);\n}\n`,
  (i: number) => `import { PartySocket } from "partysocket";\n\nexport class Client${i} {\n  private socket = new PartySocket({ host: "localhost:1999", room: "r${i}" });\n  say(text: string) {\n    this.socket?.send(text);\n  }\n}\n`,
  (i: number) => `import type PartySocket from "partysocket";\n\nexport function relay${i}(target: PartySocket | null, payload: Uint8Array) {\n  target?.send(payload);\n}\n`,
  (i: number) => `import PartySocket from "partysocket";\n\nlet socket: PartySocket | null = null;\nexport function open${i}() {\n  socket = new PartySocket({ host: "localhost:1999", room: "r${i}" });\n}\nexport function ping${i}() {\n  socket?.send("ping");\n}\n`,
];

function ordinary(i: number): string {
  return `import { helper${Math.max(0, i - 1)} } from "./helper";\n\nexport interface Record${i} {\n  id: number;\n  name: string;\n}\n\nconst mailer = { send(to: string) { return to.length; } };\n\nexport function work${i}(items: Record${i}[]): number {\n  let total = 0;\n  for (const item of items) total += item.id * ${i % 7};\n  mailer.send("ops@example.com");\n  return total + helper${Math.max(0, i - 1)}();\n}\n`;
}

async function generate(total: number): Promise<string> {
  const root = mkdtempSync(path.join(os.tmpdir(), `party-shard-bench-${total}-`));
  mkdirSync(path.join(root, "party"));
  writeFileSync(path.join(root, "partykit.json"), JSON.stringify({ name: "bench", main: "party/server.ts" }));
  writeFileSync(path.join(root, "party", "server.ts"), `import type * as Party from "partykit/server";\n\nexport default class Server implements Party.Server {\n  constructor(readonly room: Party.Room) {}\n  onMessage(message: string) {\n    this.room.broadcast(message);\n  }\n}\n`);
  const compilerOptions = { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022", "DOM"], types: [], skipLibCheck: true };
  writeFileSync(path.join(root, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["src"] }));
  for (let i = 0; i < total; i++) {
    const dir = path.join(root, "src", `area${Math.floor(i / 200)}`, `part${Math.floor(i / 20) % 10}`);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      // One helper per folder, imported by its ordinary files.
      const first = Math.floor(i / 20) * 20;
      const names = new Set(Array.from({ length: 20 }, (_, k) => Math.max(0, first + k - 1)));
      writeFileSync(path.join(dir, "helper.ts"), [...names].map((k) => `export const helper${k} = () => ${k};`).join("\n") + "\n");
    }
    const isSocketFile = i % Math.floor(total / SOCKET_FILES) === 0 && i / Math.floor(total / SOCKET_FILES) < SOCKET_FILES;
    writeFileSync(path.join(dir, `file${i}.ts`), isSocketFile ? SOCKET_PATTERNS[i % SOCKET_PATTERNS.length]!(i) : ordinary(i));
  }
  symlinkSync(path.join(REPO, "node_modules"), path.join(root, "node_modules"), "dir");
  const init = await runCli(["init", "--yes"], root);
  if (init.exitCode !== 0) throw new Error(init.stderr);
  return root;
}

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

async function main() {
  const node = process.execPath;
  const tsc = path.join(REPO, "node_modules", ".bin", "tsc");
  const rows: { files: number; command: string; wall: number; rssMb: number; vsTsc: number }[] = [];
  const help = await measure(node, [CLI, "--help"], REPO);
  for (const total of SIZES) {
    process.stderr.write(`generating ${total} files…\n`);
    const root = await generate(total);
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
  }
  const lines = rows.map((r) => `| ${String(r.files).padStart(6)} | ${r.command.padEnd(17)} | ${r.wall.toFixed(2).padStart(7)} s | ${r.rssMb.toFixed(0).padStart(5)} MB | ${r.vsTsc.toFixed(2).padStart(5)}x |`);
  console.log(`\n${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown cpu"}), Node ${process.version}; ${SOCKET_FILES} socket files per app\n`);
  console.log("|  files | command           |    wall   | peak RSS | vs tsc |");
  console.log("|--------|-------------------|-----------|----------|--------|");
  console.log(lines.join("\n"));
  console.log(`\nparty-shard --help: ${(help.wall * 1000).toFixed(0)} ms wall`);
  const outDir = path.join(REPO, "test", "bench", "results");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, "migrate.json"), JSON.stringify({ rows, helpMs: help.wall * 1000 }, null, 2));
}

await main();

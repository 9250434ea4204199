/**
 * Synthetic PartyKit apps for `npm run bench:migrate`: `total` files in nested folders with a
 * tsconfig, of which SOCKET_FILES make or use sockets (several patterns, some across files) and
 * the rest are ordinary code, each with a non-socket `.send` call and an import of its folder's
 * helper.
 */
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO, runCli } from "../helpers/cli.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";

export const SOCKET_FILES = 200;

type Pattern = (i: number) => Record<string, string>;

const SOCKET_PATTERNS: Pattern[] = [
  // A module-level socket and its sends.
  (i) => ({ [`file${i}.ts`]: `import PartySocket from "partysocket";\n\nconst socket = new PartySocket({ host: "localhost:1999", room: "r${i}" });\nexport function say${i}(text: string) {\n  socket.send(text);\n}\n` }),
  // A class field.
  (i) => ({ [`file${i}.ts`]: `import { PartySocket } from "partysocket";\n\nexport class Client${i} {\n  private socket = new PartySocket({ host: "localhost:1999", room: "r${i}" });\n  say(text: string) {\n    this.socket?.send(text);\n  }\n}\n` }),
  // A typed parameter: the socket is made elsewhere.
  (i) => ({ [`file${i}.ts`]: `import type PartySocket from "partysocket";\n\nexport function relay${i}(target: PartySocket | null, payload: string) {\n  target?.send(payload);\n}\n` }),
  // Assigned later.
  (i) => ({ [`file${i}.ts`]: `import PartySocket from "partysocket";\n\nlet socket: PartySocket | null = null;\nexport function open${i}() {\n  socket = new PartySocket({ host: "localhost:1999", room: "r${i}" });\n}\nexport function ping${i}() {\n  socket?.send("ping");\n}\n` }),
  // Made in one file, imported under another name and used in a file that never says partysocket.
  (i) => ({
    [`feed${i}.ts`]: `import PartySocket from "partysocket";\n\nexport default function connect() {\n  return new PartySocket({ host: "localhost:1999", room: "r${i}" });\n}\n`,
    [`file${i}.ts`]: `import openFeed from "./feed${i}";\n\nconst feed = openFeed();\nexport function post${i}(text: string) {\n  feed.send(text);\n}\n`,
  }),
];

function ordinary(i: number): string {
  const helper = `helper${Math.max(0, i - 1)}`;
  return `import { ${helper} } from "./helper";\n\nexport interface Record${i} {\n  id: number;\n  name: string;\n}\n\nconst mailer = { send(to: string) { return to.length; } };\n\nexport function work${i}(items: Record${i}[]): number {\n  let total = 0;\n  for (const item of items) total += item.id * ${i % 7};\n  mailer.send("ops@example.com");\n  return total + ${helper}();\n}\n`;
}

/** What a correct migrate does to the app, counted from the text written. */
export interface Expected {
  /** Socket `.send(` calls, each to become `sendViaRouter(`. */
  sends: number;
  /** `new PartySocket(` connections, each to get `party: "router"`. */
  connections: number;
  /** Non-socket `mailer.send(` calls, which must stay. */
  ownSends: number;
}

/**
 * Writes an app of `total` files to a new temp folder and runs `party-shard init` in it.
 * `dense`: every folder's helper also exports a socket type, so every ordinary file imports a
 * module that can hold a socket and none can be skipped unparsed — the worst case for migrate.
 */
export async function generateApp(total: number, dense = false): Promise<{ root: string; expected: Expected }> {
  const root = mkdtempSync(path.join(os.tmpdir(), `party-shard-bench-${total}-`));
  mkdirSync(path.join(root, "party"));
  writeFileSync(path.join(root, "partykit.json"), JSON.stringify({ name: "bench", main: "party/server.ts" }));
  writeFileSync(path.join(root, "party", "server.ts"), `import type * as Party from "partykit/server";\n\nexport default class Server implements Party.Server {\n  constructor(readonly room: Party.Room) {}\n  onMessage(message: string) {\n    this.room.broadcast(message);\n  }\n}\n`);
  const compilerOptions = { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022", "DOM"], types: [], skipLibCheck: true };
  writeFileSync(path.join(root, "tsconfig.json"), JSON.stringify({ compilerOptions, include: ["src"] }));
  const spacing = Math.floor(total / SOCKET_FILES);
  const expected: Expected = { sends: 0, connections: 0, ownSends: 0 };
  const count = (text: string, what: string) => text.split(what).length - 1;
  for (let i = 0; i < total; i++) {
    const dir = path.join(root, "src", `area${Math.floor(i / 200)}`, `part${Math.floor(i / 20) % 10}`);
    if (!existsSync(dir)) {
      mkdirSync(dir, { recursive: true });
      // One helper per folder, imported by its ordinary files.
      const first = Math.floor(i / 20) * 20;
      const names = new Set(Array.from({ length: 20 }, (_, k) => Math.max(0, first + k - 1)));
      const socketType = dense ? `import type PartySocket from "partysocket";\nexport type Feed = PartySocket;\n` : "";
      writeFileSync(path.join(dir, "helper.ts"), socketType + [...names].map((k) => `export const helper${k} = () => ${k};`).join("\n") + "\n");
    }
    const isSocketFile = i % spacing === 0 && i / spacing < SOCKET_FILES;
    const files = isSocketFile ? SOCKET_PATTERNS[(i / spacing) % SOCKET_PATTERNS.length]!(i) : { [`file${i}.ts`]: ordinary(i) };
    for (const [name, text] of Object.entries(files)) {
      writeFileSync(path.join(dir, name), text);
      if (isSocketFile) expected.sends += count(text, ".send(");
      else expected.ownSends += count(text, "mailer.send(");
      expected.connections += count(text, "new PartySocket(");
    }
  }
  linkNodeModules(root, REPO);
  const init = await runCli(["init", "--yes"], root);
  if (init.exitCode !== 0) throw new Error(init.stderr);
  return { root, expected };
}

// `node --import tsx test/bench/synthetic-app.ts 20000 [dense]` writes one app and prints where, for profiling.
if (import.meta.filename === process.argv[1]) {
  console.log((await generateApp(Number(process.argv[2] ?? 2000), process.argv[3] === "dense")).root);
}

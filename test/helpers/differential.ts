import assert from "node:assert/strict";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import WebSocket from "ws";
import { startPartykitDev } from "../../src/infra/partykit-dev.js";
import { startWranglerDev } from "../../src/infra/wrangler-dev.js";
import { FIXTURES, PARTYKIT_BIN, REPO, runCli } from "./cli.js";
import { sleep, until } from "./wait.js";
import { tempDir } from "./temp.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";

/** Clients per run; in sharded runs one of them is an old bundle that connects straight to the party. */
export const CLIENTS = 17;
export const OLD_BUNDLE = 8;
export const SHARDS = 4;
const WAIT_MS = 15_000;
/**
 * DIFFERENTIAL_KEEP_GOING=1: a wait that times out (after 3 s) is noted in the observations and
 * the script goes on, so one comparison shows every difference rather than the first.
 */
const KEEP_GOING = process.env.DIFFERENTIAL_KEEP_GOING === "1";
/** After the script, how long late messages (duplicates, echoes) have to show up. */
const SETTLE_MS = 500;
const FAULT_LINE = /party-shard: injected fault/g;
/** How long a run with faults waits for the dev server to print the first fault it injected. */
const FAULT_LOG_WAIT_MS = 5_000;

export type Mode = "unsharded" | "sharded" | "sharded with faults";

/** What the harness uses of partykit dev and wrangler dev. */
export interface DevServer {
  host: string;
  /** The load view's token (x-party-shard-view-token). */
  viewToken: string;
  output(): string;
  stop(): Promise<void>;
}
export type Platform = "partykit" | "partyserver";

/** What differs between the platforms for the harness: where the apps are, the dev server, the router's URL name. */
interface PlatformFacts {
  /** Folder under test/fixtures holding the apps. */
  fixtures: string;
  routerParty: string;
  start(dir: string, vars: Record<string, string>): Promise<DevServer>;
}

const PLATFORMS: Record<Platform, PlatformFacts> = {
  partykit: {
    fixtures: "differential",
    routerParty: "router",
    // State stays in the project's .partykit/state, so a seeded folder copies with its storage.
    start: (cwd, vars) => startPartykitDev({ cwd, bin: PARTYKIT_BIN, vars }),
  },
  partyserver: {
    fixtures: "differential-partyserver",
    routerParty: "party-shard-router",
    // wrangler's own default place, inside the project, for the same reason.
    start: (cwd, vars) => startWranglerDev({ cwd, vars, persist: path.join(cwd, ".wrangler", "state") }),
  },
};
export type Message = Record<string, unknown>;
export interface HttpAnswer {
  status: number;
  body: unknown;
}

/** What an app's `app/client.ts` exports; the sharded copy is the same module after migrate. */
export interface ClientModule<C> {
  join(options: { host: string; room: string; id: string; WebSocket: unknown; onMessage: (data: unknown) => void }): C;
  request(host: string, room: string, body?: unknown): Promise<{ status: number; text: string }>;
}
export interface AppClient {
  socket: { readyState: number };
  leave(): void;
}

/** Everything a run saw: each client's messages in order, the HTTP answers and the sink's calls. */
export interface Observations {
  clients: Record<string, Message[]>;
  http: Array<{ label: string } & HttpAnswer>;
  sink: unknown[];
  /** Waits that timed out, with DIFFERENTIAL_KEEP_GOING only. */
  timedOut: string[];
}

export interface DifferentialApp<C extends AppClient> {
  /** Default partykit (apps under test/fixtures/differential, partykit dev); partyserver: test/fixtures/differential-partyserver, wrangler dev. */
  platform?: Platform;
  /** Folder under the platform's fixtures. */
  fixture: string;
  /** The party's URL name, `/parties/<party>/<room>`: default `main` (PartyKit); on PartyServer the kebab binding name. */
  party?: string;
  room: string;
  /** How long `run.quiet()` sends nothing; default 0 (no pause). */
  quietMs?: number;
  /** Run on the unsharded project before anything else; the state it leaves is what every run starts from. */
  seed?(run: Run<C>): Promise<void>;
  script(run: Run<C>): Promise<void>;
  /** Checks on the (normalized) observations of every run, beyond their equality. */
  check?(observations: Observations): void;
  /** Checks on what the dev server printed during a run (ANSI codes removed). */
  checkLog?(log: string, mode: Mode): void;
  /** More tests in the app's suite, after the three runs, with the lab's projects. */
  more?(lab: DifferentialLab<C>): void;
}

/**
 * An app the lab prepares but does not script: its test drives each mode's server itself
 * (`withServer`), as the Yjs documents' test does with real providers.
 */
export interface ServedApp {
  platform?: Platform;
  fixture: string;
  /** Run on the unsharded project before anything else, with its server and the sink's calls; what it leaves is what every run starts from. */
  prime?(server: DevServer, sink: unknown[]): Promise<void>;
}

export const clientId = (i: number) => `c${String(i).padStart(2, "0")}`;

/**
 * The differential suite for one app: its script runs unsharded, then after init + migrate, then
 * again with faults injected between the runtime's pieces; every run must observe the same.
 */
export function describeDifferential<C extends AppClient>(title: string, app: DifferentialApp<C>): void {
  // Each run needs the one before it; only separate apps may run side by side.
  describe(title, { concurrency: 1 }, () => {
    const lab = new DifferentialLab(app);
    let reference: Observations | undefined;
    before(() => lab.prepare());
    after(() => lab.cleanup());

    it("unsharded: the reference observations", async () => {
      const { observations, faults } = await lab.observe("unsharded");
      assert.equal(faults, 0, "the unsharded app has no runtime to inject faults");
      reference = observations;
    });

    for (const mode of ["sharded", "sharded with faults"] as const) {
      it(`${mode}: every client observes exactly what it did unsharded`, async () => {
        assert.ok(reference, "the unsharded run failed: nothing to compare with");
        const { observations, faults } = await lab.observe(mode);
        assert.deepEqual(observations, reference);
        if (mode === "sharded") assert.equal(faults, 0, "faults injected without PARTY_SHARD_FAULT_PERCENT");
        else assert.ok(faults > 0, "PARTY_SHARD_FAULT_PERCENT=20 injected no fault");
      });
    }
    app.more?.(lab);
  });
}

/** One app's projects: the unsharded reference, the sharded one and the one with faults. */
export class DifferentialLab<C extends AppClient> {
  private readonly dirs: string[] = [];
  private projects?: Record<Mode, string>;
  private readonly migrations = new Map<Mode, Promise<void>>();
  readonly platform: PlatformFacts;

  constructor(readonly app: DifferentialApp<C> | ServedApp) {
    this.platform = PLATFORMS[app.platform ?? "partykit"];
  }

  /** The project folder a mode runs in (prepared by `prepare`). */
  projectDir(mode: Mode): string {
    return this.projects![mode];
  }

  /** The fixture's own folder (the untouched app). */
  get fixtureDir(): string {
    return path.join(FIXTURES, this.platform.fixtures, this.app.fixture);
  }

  /**
   * Copies the fixture; with a seed, seeds one project and copies it after the server stopped.
   * Both sharded projects are migrated in the background while the unsharded run goes on.
   */
  async prepare(): Promise<void> {
    const first = this.copy(this.fixtureDir);
    const { seed, prime } = this.app as Partial<DifferentialApp<C> & ServedApp>;
    if (seed) await this.run(first, "unsharded", seed);
    if (prime) await this.serve(first, "unsharded", (server, _log, sink) => prime(server, sink));
    // The sharded run migrates the very folder the unsharded app ran in, with its stored state.
    this.projects = { sharded: first, unsharded: this.copy(first), "sharded with faults": this.copy(first) };
    for (const mode of ["sharded", "sharded with faults"] as const) {
      const migrated = migrate(this.projects[mode]);
      migrated.catch(() => {}); // reported by the run that awaits it
      this.migrations.set(mode, migrated);
    }
  }

  /** Runs the app's script in the project for `mode` (once migrated, when sharded). */
  async observe(mode: Mode): Promise<{ observations: Observations; faults: number; load?: number[]; log: string }> {
    const app = this.app as DifferentialApp<C>;
    const dir = this.projects![mode];
    await this.migrations.get(mode);
    const result = await this.run(dir, mode, app.script);
    const observations = normalize(result.observations);
    this.dump(mode, observations, result.log);
    app.check?.(observations);
    app.checkLog?.(result.log, mode);
    return { ...result, observations };
  }

  /**
   * Boots the project for `mode` (once migrated; with faults injected in "sharded with faults")
   * and hands `use` the server, a reader of everything it printed so far (ANSI codes removed) and
   * the sink's calls; the server is stopped after.
   */
  async withServer<T>(mode: Mode, use: (server: DevServer, log: () => string, sink: unknown[]) => Promise<T>): Promise<T> {
    await this.migrations.get(mode);
    return this.serve(this.projects![mode], mode, use);
  }

  private async serve<T>(dir: string, mode: Mode, use: (server: DevServer, log: () => string, sink: unknown[]) => Promise<T>): Promise<T> {
    const sink = await startSink();
    let server: DevServer | undefined;
    let tap: ReturnType<typeof tapOutput> | undefined;
    try {
      server = await this.platform.start(dir, faultVars(mode, { SINK: sink.url }));
      const output = tapOutput(server);
      tap = output;
      return await use(server, () => stripAnsi(output.read()), sink.calls);
    } finally {
      tap?.stop();
      await server?.stop();
      await sink.close();
    }
  }

  /**
   * For reading a difference side by side: DIFFERENTIAL_DUMP=<dir> keeps every run's
   * observations and server output, also of a run that failed (as `<name>-failed`).
   */
  private dump(mode: Mode, observations: Observations, log: string, suffix = ""): void {
    const dump = process.env.DIFFERENTIAL_DUMP;
    if (!dump) return;
    const name = path.join(dump, `${this.app.platform ?? "partykit"}-${this.app.fixture}-${mode.replaceAll(" ", "-")}${suffix}`);
    writeFileSync(`${name}.json`, JSON.stringify(observations, null, 1));
    writeFileSync(`${name}.log`, log);
  }

  async cleanup(): Promise<void> {
    // A migration still running would write into a removed folder.
    await Promise.allSettled(this.migrations.values());
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }

  private copy(from: string): string {
    const dir = tempDir(`differential-${this.app.fixture}`);
    cpSync(from, dir, { recursive: true, filter: (source) => path.basename(source) !== "node_modules" });
    linkNodeModules(dir, REPO);
    this.dirs.push(dir);
    return dir;
  }

  private async run(dir: string, mode: Mode, script: (run: Run<C>) => Promise<void>) {
    const sink = await startSink();
    const vars = faultVars(mode, { SINK: sink.url });
    let server: DevServer | undefined;
    let tap: ReturnType<typeof tapOutput> | undefined;
    let run: Run<C> | undefined;
    try {
      server = await this.platform.start(dir, vars);
      tap = tapOutput(server);
      const original = (await import(path.join(this.fixtureDir, "app", "client.ts"))) as ClientModule<C>;
      const own = mode === "unsharded" ? original : ((await import(path.join(dir, "app", "client.ts"))) as ClientModule<C>);
      const app = this.app as DifferentialApp<C>;
      const parties = { party: app.party ?? "main", router: this.platform.routerParty };
      run = new Run<C>({ host: server.host, viewToken: server.viewToken, room: app.room, mode, own, original, sink: sink.calls, parties, quietMs: app.quietMs ?? 0 });
      await script(run);
      await sleep(SETTLE_MS);
      // A dev server on a loaded machine may print the runtime's fault lines after the run ended:
      // wait a little for the first one before the run is said to have had none.
      if (mode === "sharded with faults") await until(() => faultsIn(tap!.read()) > 0, FAULT_LOG_WAIT_MS);
      const observations = run.snapshot();
      const log = stripAnsi(tap.stop());
      return { observations, faults: faultsIn(log), load: run.load, log };
    } catch (error) {
      // What the server said is most of the story when a run goes wrong.
      const output = stripAnsi(tap?.stop() ?? "");
      if (run) this.dump(mode, normalize(run.snapshot()), output, "-failed");
      const lines = output.split("\n").filter((line) => line.trim() !== "");
      const tail = lines.slice(-25).join("\n");
      if (error instanceof Error) error.message += `\n--- dev server output, last lines ---\n${tail}`;
      throw error;
    } finally {
      tap?.stop();
      run?.leaveAll();
      await server?.stop();
      await sink.close();
    }
  }
}

/** The server's vars for a mode: in "sharded with faults", 20% of the runtime's hand-offs fail. */
function faultVars(mode: Mode, vars: Record<string, string>): Record<string, string> {
  return mode === "sharded with faults" ? { ...vars, PARTY_SHARD_FAULT_PERCENT: "20" } : vars;
}

/** The number of faults the runtime says it injected in a server's output. */
export function faultsIn(log: string): number {
  return log.match(FAULT_LINE)?.length ?? 0;
}

/** `init` then `migrate`, as a user would run them in the project. */
export async function migrate(dir: string): Promise<void> {
  for (const args of [["init", "--yes", "--shards", String(SHARDS), "--shard-target", "1"], ["migrate", "--yes"]]) {
    const result = await runCli(args, dir);
    assert.equal(result.exitCode, 0, `party-shard ${args.join(" ")} failed:\n${result.stderr}\n${result.stdout}`);
  }
}

interface RunOptions<C> {
  host: string;
  /** The dev server's load view token. */
  viewToken: string;
  room: string;
  mode: Mode;
  /** The project's own client module (migrated in sharded runs) and the fixture's, untouched. */
  own: ClientModule<C>;
  original: ClientModule<C>;
  sink: unknown[];
  /** URL names: the party's own and the router's. */
  parties: { party: string; router: string };
  quietMs: number;
}

/** What a script drives: clients joined one at a time, HTTP calls, and waits on what was seen. */
export class Run<C extends AppClient> {
  readonly clients: (C | undefined)[] = [];
  readonly inboxes: Message[][] = Array.from({ length: CLIENTS }, () => []);
  readonly http: Observations["http"] = [];
  readonly timedOut: string[] = [];
  load?: number[];

  constructor(private readonly options: RunOptions<C>) {}

  get sharded(): boolean {
    return this.options.mode !== "unsharded";
  }

  get sink(): unknown[] {
    return this.options.sink;
  }

  /** Connects client `i` (the old bundle's module for OLD_BUNDLE in sharded runs) and waits until it is open. */
  async join(i: number): Promise<C> {
    const module = i === OLD_BUNDLE ? this.options.original : this.options.own;
    const { host, room } = this.options;
    const client = module.join({ host, room, id: clientId(i), WebSocket, onMessage: (data) => this.inboxes[i]!.push(data as Message) });
    this.clients[i] = client;
    await this.waitFor(`${clientId(i)} to connect`, () => client.socket.readyState === 1);
    return client;
  }

  client(i: number): C {
    return this.clients[i] ?? assert.fail(`${clientId(i)} has not joined`);
  }

  leave(i: number): void {
    this.client(i).leave();
    this.clients[i] = undefined;
  }

  leaveAll(): void {
    for (const client of this.clients) client?.leave();
  }

  /** Indices of the clients that are connected now. */
  present(): number[] {
    return this.clients.flatMap((client, i) => (client ? [i] : []));
  }

  /** HTTP through the app's client module (direct to the party's room); the answer is observed. */
  async request(label: string, body?: unknown): Promise<HttpAnswer> {
    const { status, text } = await this.options.own.request(this.options.host, this.options.room, body);
    return this.record(label, { status, body: parseJson(text) });
  }

  /** A POST to the router's room when sharded (/parties/router/<room> on PartyKit), to the party's own when not. */
  async postViaRouter(label: string, body: unknown): Promise<HttpAnswer> {
    const party = this.sharded ? this.options.parties.router : this.options.parties.party;
    const response = await fetch(`http://${this.options.host}/parties/${party}/${this.options.room}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return this.record(label, { status: response.status, body: parseJson(text) });
  }

  /** Waits until the last message of every client in `who` (default: all present) matches `pattern`. */
  async everyoneLast(what: string, pattern: Message, who = this.present()): Promise<void> {
    await this.waitFor(what, () => who.every((i) => matches(this.inboxes[i]!.at(-1), pattern)));
  }

  /** In sharded runs, the router's load view must place the 16 routed clients on every shard. */
  async checkShardLoad(): Promise<void> {
    if (!this.sharded) return;
    const view = await readRouterLoad(this.options.host, this.options.room, this.options.parties.router, this.options.viewToken);
    this.load = view.load;
    const routed = this.present().filter((i) => i !== OLD_BUNDLE).length;
    assert.equal(view.load.reduce((sum, n) => sum + n, 0), routed, `router load ${JSON.stringify(view.load)}`);
    assert.ok(view.load.length === SHARDS && view.load.every((n) => n >= 1), `a shard is empty: ${JSON.stringify(view.load)}`);
  }

  /**
   * Sends nothing for the app's `quietMs` (a no-op without it): long enough on wrangler dev for
   * a hibernating room to be evicted while its sockets, and the shards' links, stay open.
   */
  async quiet(): Promise<void> {
    if (this.options.quietMs > 0) await sleep(this.options.quietMs);
  }

  async waitFor(what: string, done: () => boolean): Promise<void> {
    const started = Date.now();
    const deadline = started + (KEEP_GOING ? 3_000 : WAIT_MS);
    while (!done()) {
      if (Date.now() > deadline && KEEP_GOING) return void this.timedOut.push(what);
      if (Date.now() > deadline) assert.fail(`[${this.options.mode}] timed out waiting for ${what}.\n${this.describe()}`);
      await sleep(10);
    }
    if (process.env.DIFFERENTIAL_TRACE) console.error(`[${this.options.mode}] ${what}: ${Date.now() - started} ms`);
  }

  snapshot(): Observations {
    const clients = Object.fromEntries(this.inboxes.map((inbox, i) => [clientId(i), structuredClone(inbox)]));
    return { clients, http: structuredClone(this.http), sink: structuredClone(this.sink), timedOut: [...this.timedOut] };
  }

  private record(label: string, answer: HttpAnswer): HttpAnswer {
    this.http.push({ label, ...answer });
    return answer;
  }

  /** Every client's last few messages, for a timeout's message. */
  private describe(): string {
    const lines = this.inboxes.map((inbox, i) => {
      const state = this.clients[i] ? `open=${this.clients[i]!.socket.readyState === 1}` : "not joined/left";
      return `  ${clientId(i)} (${state}, ${inbox.length} msgs): ${inbox.slice(-3).map((m) => JSON.stringify(m)).join("  ")}`;
    });
    return [...lines, `  http: ${JSON.stringify(this.http.slice(-3))}`, `  sink (${this.sink.length}): ${JSON.stringify(this.sink.slice(-3))}`].join("\n");
  }
}

/** The router's view of one room: `GET /parties/<router>/<room>`. */
export async function readRouterLoad(host: string, room: string, router: string, viewToken: string): Promise<{ load: number[] }> {
  const response = await fetch(`http://${host}/parties/${router}/${room}`, { headers: { "x-party-shard-view-token": viewToken } });
  const text = await response.text();
  assert.equal(response.status, 200, `GET /parties/${router}/${room} answered ${response.status}: ${text}`);
  return JSON.parse(text) as { load: number[] };
}

/** Each distinct random UUID becomes `<round-N>`, numbered by first appearance. */
export function normalize(observations: Observations): Observations {
  const names = new Map<string, string>();
  const text = JSON.stringify(observations).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, (uuid) => {
    if (!names.has(uuid)) names.set(uuid, `<round-${names.size + 1}>`);
    return names.get(uuid)!;
  });
  return JSON.parse(text) as Observations;
}

export function matches(message: unknown, pattern: Message): boolean {
  if (typeof message !== "object" || message === null) return false;
  return Object.entries(pattern).every(([key, value]) => isDeepStrictEqual((message as Message)[key], value));
}

/** An HTTP endpoint on 127.0.0.1 that records every request body it gets, in order. */
async function startSink(): Promise<{ url: string; calls: unknown[]; close(): Promise<void> }> {
  const calls: unknown[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      calls.push(parseJson(body));
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The server's whole output: `output()` keeps only a tail, so new text is gathered as it comes. */
function tapOutput(server: DevServer): { read(): string; stop(): string } {
  let gathered = "";
  let last = "";
  const read = () => {
    const now = server.output();
    gathered += now.slice(overlapOf(last, now));
    last = now;
  };
  const timer = setInterval(read, 100);
  return {
    read() {
      read();
      return gathered;
    },
    stop() {
      clearInterval(timer);
      read();
      return gathered;
    },
  };
}

/** How much of `now` was already in `last` (a tail window that grew and may have dropped its start). */
function overlapOf(last: string, now: string): number {
  if (now.startsWith(last)) return last.length;
  const probe = last.slice(-200);
  let best = 0;
  for (let at = now.indexOf(probe); probe !== "" && at >= 0; at = now.indexOf(probe, at + 1)) {
    if (last.endsWith(now.slice(0, at + probe.length))) best = at + probe.length;
  }
  return best;
}

function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

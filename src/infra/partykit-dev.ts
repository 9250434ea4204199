import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { findUp } from "../core/find-up.js";
import { PartyShardError } from "../errors.js";

export interface PartykitDevOptions {
  /** The PartyKit project to run. */
  cwd: string;
  /** `partykit` executable; defaults to the project's own `node_modules/.bin/partykit`. */
  bin?: string;
  port?: number;
  /** Where Durable Object state is kept (`--persist`); default: partykit's own `.partykit/state`. */
  persist?: string;
  /** Passed as `--var KEY=VALUE`. */
  vars?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Aborting it while the server starts stops it, and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface PartykitDev {
  host: string;
  port: number;
  /** The server's recent output, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<PartykitDev>();
// A crash, Ctrl-C or kill of party-shard must not leave workerd processes behind: partykit dev
// runs in a process group of its own, so the terminal's signals do not reach it.
process.once("exit", () => {
  for (const server of running) void server.stop();
});

/**
 * While a server runs and nothing else handles SIGINT, SIGTERM or SIGHUP (a script or test
 * using this module), the signal stops the servers, then ends the process as it would have.
 * A command that handles the signal itself (the CLI's verify, to exit 128 + its number) stops
 * its server in its own order: clients first, which lets partykit dev exit at once.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  void Promise.all([...running].map((server) => server.stop())).then(() => {
    // Stopping the last server removed this handler, so the signal now has its default effect.
    process.kill(process.pid, signal);
  });
}

function track(server: PartykitDev): void {
  if (running.size === 0) for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  running.add(server);
}

function untrack(server: PartykitDev): void {
  running.delete(server);
  if (running.size === 0) for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
}

// SIGHUP: the terminal was closed; partykit dev, in a session of its own, would outlive it.
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Starts `partykit dev` on a free loopback port and resolves once it answers HTTP. */
export async function startPartykitDev(options: PartykitDevOptions): Promise<PartykitDev> {
  options.signal?.throwIfAborted();
  // The project's own partykit, here or in a workspace root above, as npm would run it.
  const bin = options.bin ?? findUp(options.cwd, path.join("node_modules", ".bin", "partykit"));
  if (!bin || !existsSync(bin)) {
    throw new PartyShardError(`partykit is not installed in ${options.cwd}.`, { hint: "Run `npm install -D partykit` there." });
  }
  const port = options.port ?? (await freePort());
  const vars = Object.entries(options.vars ?? {}).flatMap(([key, value]) => ["--var", `${key}=${value}`]);
  const persist = options.persist ? ["--persist", options.persist] : [];
  const child = execa(bin, ["dev", "--port", String(port), "--no-hotkeys", "--disable-request-cf-fetch", ...persist, ...vars], {
    cwd: options.cwd,
    env: { FORCE_COLOR: "0", NO_COLOR: "1" },
    stdin: "ignore",
    all: true,
    buffer: false,
    reject: false,
    // Its own process group, so stop() reaches workerd too.
    detached: true,
  });
  let log = "";
  child.all?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  });
  const server: PartykitDev = {
    host: `127.0.0.1:${port}`,
    port,
    output: () => log,
    stop: () => stopGroup(child, server),
  };
  track(server);
  try {
    await waitUntilReady(server, child, options.readyTimeoutMs ?? 60_000, options.signal);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

async function waitUntilReady(server: PartykitDev, child: ResultPromise, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  let exited = false;
  void child.then(() => {
    exited = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (exited) break;
    const answered = await fetch(`http://${server.host}/__party_shard_ready`).then(
      () => /Ready on/.test(server.output()),
      () => false,
    );
    if (answered) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const tail = server.output().trim().split("\n").slice(-15).join("\n");
  throw new PartyShardError(`partykit dev ${exited ? "exited" : "did not become ready"} before serving requests.`, {
    exitCode: 1,
    hint: `Its last output:\n${tail}`,
  });
}

async function stopGroup(child: ResultPromise, server: PartykitDev): Promise<void> {
  try {
    await killGroup(child);
  } finally {
    // Only now: a second Ctrl-C while it stops must still find the handler that waits for it.
    untrack(server);
  }
}

async function killGroup(child: ResultPromise): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null) return;
  const done = child.then(() => undefined);
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // Already gone.
    }
  }, 3_000);
  await done;
  clearTimeout(timer);
  // partykit has exited; a workerd that ignored SIGTERM would outlive it in the same group.
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // The whole group is gone.
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

import { randomBytes } from "node:crypto";
import net from "node:net";
import { execa, type ResultPromise } from "execa";

/** A local dev server (partykit dev, wrangler dev) that party-shard started and must stop. */
export interface DevServer {
  host: string;
  port: number;
  /** The id of its process group (its leader's pid): every process it started is in it. */
  pid: number | undefined;
  /**
   * The PARTY_SHARD_VIEW_TOKEN it was started with: a GET of the router's room carrying it in
   * VIEW_TOKEN_HEADER answers the load view (without it, the GET is the room's own).
   */
  viewToken: string;
  /** The server's recent output, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

/** The header and the deploy variable that open the router's load view (the runtime's protocol.ts names them too). */
export const VIEW_TOKEN_HEADER = "x-party-shard-view-token";
export const VIEW_TOKEN_VAR = "PARTY_SHARD_VIEW_TOKEN";

/** A fresh view token for one dev server: the load view is readable by its starter alone. */
export function newViewToken(): string {
  return randomBytes(18).toString("base64url");
}

export interface DevProcess {
  child: ResultPromise;
  /** The last 20,000 characters it printed, stdout and stderr interleaved. */
  output(): string;
}

/**
 * Spawns a dev server in a process group of its own, so that one kill of the group reaches
 * the workerd processes it starts, and the terminal's Ctrl-C does not (the parent stops it).
 */
export function spawnDevProcess(file: string, args: string[], cwd: string, env: Record<string, string>): DevProcess {
  const child = execa(file, args, { cwd, env, stdin: "ignore", all: true, buffer: false, reject: false, detached: true });
  let log = "";
  child.all?.on("data", (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
  });
  return { child, output: () => log };
}

/**
 * The server object for a spawned process: tracked from now on, so that party-shard's exit or
 * a signal stops it; `stop()` kills the group, then runs `cleanup` (say, removing its state folder).
 */
export function trackDevServer(process_: DevProcess, port: number, viewToken: string, cleanup: () => void = () => undefined): DevServer {
  const server: DevServer = {
    host: `127.0.0.1:${port}`,
    port,
    viewToken,
    pid: process_.child.pid,
    output: process_.output,
    stop: async () => {
      try {
        await killGroup(process_.child);
        cleanup();
      } finally {
        // Only now: a second Ctrl-C while it stops must still find the handler that waits for it.
        untrack(server);
      }
    },
  };
  track(server, cleanup);
  return server;
}

/** Each running server, with what its stop() does once the group is gone. */
const running = new Map<DevServer, () => void>();
// A crash, Ctrl-C or kill of party-shard must not leave workerd processes behind: dev servers
// run in a process group of their own, so the terminal's signals do not reach them. The kill
// in stop() is sent synchronously, before its first await, so it happens even here; the
// cleanup is run here too, as nothing after an await will.
process.once("exit", () => {
  for (const [server, cleanup] of running) {
    void server.stop();
    try {
      cleanup();
    } catch {
      // Best effort: the process is ending.
    }
  }
});

/**
 * While a server runs and nothing else handles SIGINT, SIGTERM or SIGHUP (a script or test
 * using this module), the signal stops the servers, then ends the process as it would have.
 * A command that handles the signal itself (the CLI's verify, to exit 128 + its number) stops
 * its server in its own order: clients first, which lets the server exit at once.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  void Promise.all([...running.keys()].map((server) => server.stop())).then(() => {
    // Stopping the last server removed this handler, so the signal now has its default effect.
    process.kill(process.pid, signal);
  });
}

// SIGHUP: the terminal was closed; the server, in a session of its own, would outlive it.
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

function track(server: DevServer, cleanup: () => void): void {
  if (running.size === 0) for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  running.set(server, cleanup);
}

function untrack(server: DevServer): void {
  running.delete(server);
  if (running.size === 0) for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
}

/** SIGTERM to the whole group, SIGKILL after 3 s if the leader has not exited, and SIGKILL to stragglers. */
async function killGroup(child: ResultPromise): Promise<void> {
  if (child.pid === undefined) return;
  if (child.exitCode !== null || child.signalCode !== null) {
    // The leader is gone, but what it started may still run in its group.
    killQuietly(-child.pid, "SIGKILL");
    return;
  }
  const done = child.then(() => undefined);
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => killQuietly(-child.pid!, "SIGKILL"), 3_000);
  await done;
  clearTimeout(timer);
  // The leader has exited; a workerd that ignored SIGTERM would outlive it in the same group.
  killQuietly(-child.pid, "SIGKILL");
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

/** A loopback port nothing listens on right now. */
export function freePort(): Promise<number> {
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

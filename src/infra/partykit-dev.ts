import { existsSync } from "node:fs";
import path from "node:path";
import { findUp } from "../core/find-up.js";
import { disk } from "./disk.js";
import { PartyShardError } from "../errors.js";
import { VIEW_TOKEN_VAR, freePort, newViewToken, spawnDevProcess, trackDevServer, type DevProcess, type DevServer } from "./dev-process.js";

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
  /**
   * A process that has printed nothing at all after this long never started: it is stopped and
   * one fresh process tried instead (seen rarely on a loaded 2-core machine; partykit prints its
   * banner within a second otherwise). Default 20 s.
   */
  silentStartMs?: number;
  /** Aborting it while the server starts stops it, and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export type PartykitDev = DevServer;

/** Starts `partykit dev` on a free loopback port and resolves once it answers HTTP. */
export async function startPartykitDev(options: PartykitDevOptions): Promise<PartykitDev> {
  options.signal?.throwIfAborted();
  // The project's own partykit, here or in a workspace root above, as npm would run it.
  const bin = options.bin ?? findUp(disk, options.cwd, path.join("node_modules", ".bin", "partykit"));
  if (!bin || !existsSync(bin)) {
    throw new PartyShardError(`partykit is not installed in ${options.cwd}.`, { hint: "Run `npm install -D partykit` there." });
  }
  const viewToken = newViewToken();
  const vars = Object.entries({ [VIEW_TOKEN_VAR]: viewToken, ...options.vars }).flatMap(([key, value]) => ["--var", `${key}=${value}`]);
  const persist = options.persist ? ["--persist", options.persist] : [];
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const args = ["dev", "--port", String(port), "--no-hotkeys", "--disable-request-cf-fetch", ...persist, ...vars];
    const child = spawnDevProcess(bin, args, options.cwd, { FORCE_COLOR: "0", NO_COLOR: "1" });
    const server = trackDevServer(child, port, viewToken);
    try {
      await waitUntilReady(server, child, options.readyTimeoutMs ?? 60_000, options.signal, attempt === 1 ? (options.silentStartMs ?? 20_000) : undefined);
      return server;
    } catch (error) {
      await server.stop();
      if (!(error instanceof SilentStart)) throw error;
    }
  }
}

/** The process printed nothing within its silent-start time: it never started. */
class SilentStart extends Error {}

async function waitUntilReady(server: PartykitDev, { child }: DevProcess, timeoutMs: number, signal: AbortSignal | undefined, silentStartMs: number | undefined): Promise<void> {
  let exited = false;
  void child.then(() => {
    exited = true;
  });
  const started = Date.now();
  const deadline = started + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (exited) break;
    if (silentStartMs !== undefined && server.output() === "" && Date.now() - started > silentStartMs) throw new SilentStart();
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

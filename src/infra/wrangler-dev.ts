import { existsSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { findUp } from "../core/find-up.js";
import { disk } from "./disk.js";
import { PartyShardError } from "../errors.js";
import { VIEW_TOKEN_VAR, freePort, newViewToken, spawnDevProcess, trackDevServer, type DevProcess, type DevServer } from "./dev-process.js";
import { makeTempDir } from "./temp-dir.js";

export interface WranglerDevOptions {
  /** The Worker's project: the folder of its wrangler config (wrangler looks upward from here). */
  cwd: string;
  /** `wrangler/bin/wrangler.js`; defaults to the project's own, found upward as node resolves it. */
  script?: string;
  /** The wrangler config, when it is not the one wrangler finds from `cwd` (`--config`). */
  config?: string;
  port?: number;
  /** Where Durable Object state is kept (`--persist-to`); default: a temp folder removed on stop. */
  persist?: string;
  /** Passed as `--var KEY:VALUE` (wrangler's colon; partykit's is `=`). */
  vars?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Aborting it while the server starts stops it, and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export type WranglerDev = DevServer;

// No prompt, no telemetry, no login, and it runs offline (docs/partyserver.md, "verify on wrangler dev").
// WRANGLER_HIDE_BANNER: the banner checks for a newer wrangler (a network call, and an update-check folder in the temp dir).
const ENV = { WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", CI: "1", NO_COLOR: "1", FORCE_COLOR: "0" };

/** Starts `wrangler dev` on free loopback ports and resolves once the Worker answers HTTP. */
export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  options.signal?.throwIfAborted();
  // Run with this node, not through npx: npx's first boot took 10 s, and it would download a wrangler that is missing.
  const script = options.script ?? findUp(disk, options.cwd, path.join("node_modules", "wrangler", "bin", "wrangler.js"));
  if (!script || !existsSync(script)) {
    throw new PartyShardError(`wrangler is not installed in ${options.cwd}.`, { hint: "Run `npm install -D wrangler` there." });
  }
  // A free port can be taken by another process before wrangler binds it: then another pair.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options, script, options.port ?? (await freePort()));
    } catch (error) {
      if (!(error instanceof PortTaken) || options.port !== undefined || attempt === 3) throw error instanceof PortTaken ? error.cause : error;
    }
  }
}

/** A start that failed because a port was taken meanwhile; `cause` is the error to report. */
class PortTaken extends Error {}

async function startOnce(options: WranglerDevOptions, script: string, port: number): Promise<WranglerDev> {
  // Its own inspector port: the default one is taken by any other wrangler dev running.
  const inspectorPort = await freePort();
  const viewToken = newViewToken();
  // State in a folder of its own: the project's .wrangler/state (and the developer's rooms) is never touched.
  const state = options.persist === undefined ? makeTempDir("wrangler-state") : undefined;
  const args = [
    script, "dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
    "--persist-to", options.persist ?? state!.path, "--log-level", "info",
    ...(options.config ? ["--config", options.config] : []),
    ...Object.entries({ [VIEW_TOKEN_VAR]: viewToken, ...options.vars }).flatMap(([key, value]) => ["--var", `${key}:${value}`]),
  ];
  const child = spawnDevProcess(process.execPath, args, options.cwd, ENV);
  const bundleFolder = path.join(options.cwd, ".wrangler");
  const madeBundleFolder = !existsSync(bundleFolder);
  const server = trackDevServer(child, port, viewToken, () => {
    state?.remove();
    // wrangler bundles into .wrangler/tmp even with --persist-to. A .wrangler it made, holding
    // nothing else, goes too: the project is left as it was found.
    if (madeBundleFolder && onlyTmpIn(bundleFolder)) rmSync(bundleFolder, { recursive: true, force: true });
  });
  try {
    await waitUntilReady(server, child, options.readyTimeoutMs ?? 60_000, options.signal);
  } catch (error) {
    // A wrangler that printed an error keeps running: it must be stopped here, or it stays.
    await server.stop();
    if (/address already in use/i.test(plainText(server.output()))) throw new PortTaken("port taken", { cause: error });
    throw error;
  }
  return server;
}

function onlyTmpIn(folder: string): boolean {
  try {
    return readdirSync(folder).every((name) => name === "tmp");
  } catch {
    return false;
  }
}

/** wrangler's errors are coloured even under NO_COLOR. */
function plainText(output: string): string {
  return output.replace(/\x1b\[[0-9;]*m/g, "");
}

/** The line wrangler prints once workerd listens; the first request still waits for the bundle. */
async function waitUntilReady(server: WranglerDev, { child }: DevProcess, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  let exited = false;
  void child.then(() => {
    exited = true;
  });
  const ready = `Ready on http://${server.host}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    signal?.throwIfAborted();
    const output = plainText(server.output());
    // A startup error (a bound class the main module does not export, a bad config) is printed
    // while wrangler keeps running, never ready.
    const error = /✘ \[ERROR\] ([^\n]*)/.exec(output);
    if (error) {
      // The lines after it (where to fix it) come a moment later.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const block = plainText(server.output()).slice(error.index);
      throw new PartyShardError(`wrangler dev: ${error[1]!.trim()}`, { exitCode: 1, hint: `wrangler said:\n${lastLines(block)}` });
    }
    if (output.includes(ready) && (await answers(server))) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  signal?.throwIfAborted();
  throw new PartyShardError(`wrangler dev ${exited ? "exited" : "did not become ready"} before serving requests.`, {
    exitCode: 1,
    hint: `Its last output:\n${lastLines(plainText(server.output()))}`,
  });
}

function answers(server: WranglerDev): Promise<boolean> {
  return fetch(`http://${server.host}/__party_shard_ready`).then(
    async (response) => {
      await response.arrayBuffer();
      return true;
    },
    () => false,
  );
}

function lastLines(output: string): string {
  return output.trim().split("\n").slice(-15).join("\n");
}

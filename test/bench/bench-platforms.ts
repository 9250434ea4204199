/**
 * The apps and dev servers the crowd benchmarks (bench:scale, bench:elastic) run on: the bundled
 * demo chat on `partykit dev`, and on `wrangler dev` the hono-party chat the live tests use (the
 * bundled PartyServer demo broadcasts every join to everyone, which would time its O(N²) joins,
 * not the connect path). Both greet each client with `{"type":"welcome",…}` and broadcast each
 * message to everyone but its sender as `{"type":"say",…,"text":…}`.
 */
import { cpSync } from "node:fs";
import path from "node:path";
import type { DevServer } from "../../src/infra/dev-process.js";
import { startPartykitDev } from "../../src/infra/partykit-dev.js";
import { startWranglerDev } from "../../src/infra/wrangler-dev.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";
import { FIXTURES, PARTYKIT_BIN, REPO, copyDemoApp, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

export interface BenchPlatform {
  label: string;
  /** A fresh copy of the app, before init and migrate. */
  copy(): string;
  /** URL names of the router and of the sharded party. */
  router: string;
  party: string;
  /** What every client adds to its connect query. */
  query: Record<string, string>;
  /** Only wrangler dev evicts an idle object whose sockets can hibernate, as deployed. */
  evictsIdle: boolean;
  start(cwd: string): Promise<DevServer>;
}

export const BENCH_PLATFORMS: Record<string, BenchPlatform> = {
  partykit: { label: "partykit dev", copy: () => copyDemoApp("demo-chat"), router: "router", party: "main", query: {}, evictsIdle: false, start: (cwd) => startPartykitDev({ cwd, bin: PARTYKIT_BIN }) },
  partyserver: { label: "wrangler dev", copy: copyHonoChat, router: "party-shard-router", party: "chat", query: { token: "letmein" }, evictsIdle: true, start: (cwd) => startWranglerDev({ cwd }) },
};

/** test/fixtures/partyserver/hono-chat: its hook wants the token its wrangler.jsonc sets. */
function copyHonoChat(): string {
  const dir = tempDir("bench-hono-chat");
  cpSync(path.join(FIXTURES, "partyserver", "hono-chat"), dir, { recursive: true });
  linkNodeModules(dir, REPO);
  return dir;
}

/** A copy of the platform's app after `init` with `initFlags` and `migrate`. */
export async function migratedApp(platform: BenchPlatform, initFlags: string[]): Promise<string> {
  const dir = platform.copy();
  for (const args of [["init", "--yes", ...initFlags], ["migrate", "--yes"]]) {
    const result = await runCli(args, dir);
    if (result.exitCode !== 0) throw new Error(`${args.join(" ")} failed: ${result.stderr}`);
  }
  return dir;
}

/** BENCH_PLATFORMS (default both), refused when it names an unknown one. */
export function chosenPlatforms(): BenchPlatform[] {
  const names = (process.env.BENCH_PLATFORMS ?? "partykit,partyserver").split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !BENCH_PLATFORMS[name]);
  if (unknown.length > 0) throw new Error(`BENCH_PLATFORMS: unknown ${unknown.join(", ")}; use ${Object.keys(BENCH_PLATFORMS).join(", ")}`);
  return names.map((name) => BENCH_PLATFORMS[name]!);
}

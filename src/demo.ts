/**
 * `npm run demo`: the whole job on a bundled chat app, offline. Copies the app to a temp
 * folder, runs init and migrate (showing what they change), check, then verify on the
 * platform's real dev server. Exits with verify's code.
 *
 *   npm run demo                    the PartyKit app (templates/demo-chat) on partykit dev
 *   npm run demo -- --partyserver   the PartyServer app (templates/demo-partyserver-chat) on wrangler dev
 */
import { cpSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { makeTempDir } from "./infra/temp-dir.js";
import { decidePalette } from "./ui/colour.js";
import { colorDiff } from "./ui/render-diff.js";
import { linkNodeModules } from "./infra/link-node-modules.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const CLI = path.join(REPO, "bin", "party-shard.js");
// Plain under CI and in a pipe (CI greps this output); `npm run demo -- --no-color` too.
const NO_COLOR_FLAG = process.argv.includes("--no-color");
const pc = decidePalette(NO_COLOR_FLAG).stdout;

/** A bundled app and the words the demo uses for its platform. */
interface DemoApp {
  template: string;
  intro: string;
  /** What init does there, shown beside its command. */
  initTitle: string;
  devServer: string;
}

const APPS = {
  partykit: {
    template: "demo-chat",
    intro: "a chat app (class party whose onMessage broadcasts, a client using socket.send)",
    initTitle: "add the router party and generate the router",
    devServer: "partykit dev",
  },
  partyserver: {
    template: "demo-partyserver-chat",
    intro: "a PartyServer chat app (a Server subclass whose onMessage broadcasts, a Worker calling routePartykitRequest, a client using socket.send)",
    initTitle: "bind the router class, add its migration, generate the runtime and export the router from the Worker",
    devServer: "wrangler dev",
  },
} satisfies Record<string, DemoApp>;

interface JsonPlan {
  changes: { path: string; action: "create" | "update"; diff: string }[];
}

async function party(args: string[], cwd: string) {
  // The child writes to a pipe, so it is told the demo's decision.
  return execa(process.execPath, [CLI, ...args], { cwd, reject: false, env: { FORCE_COLOR: pc.isColorSupported ? "1" : "0" } });
}

/** Shows what a writing command would change (diffs of the user's files, names of generated ones), then runs it. */
async function step(title: string, [command, ...flags]: [string, ...string[]], cwd: string): Promise<void> {
  console.log(pc.bold(pc.cyan(`\n$ npx party-shard ${[command, ...flags].join(" ")}`)) + pc.dim(`  # ${title}`));
  const preview = await party([command, ...flags, "--dry-run", "--json"], cwd);
  if (preview.exitCode !== 0) throw new Error(`${command} --dry-run failed:\n${preview.stderr}`);
  for (const change of (JSON.parse(preview.stdout) as JsonPlan).changes) {
    if (change.action === "create") console.log(pc.green(`+ ${change.path} (new, generated)`));
    else console.log(colorDiff(change.diff, pc));
  }
  const applied = await party([command, ...flags, "--yes"], cwd);
  if (applied.exitCode !== 0) throw new Error(`${command} failed:\n${applied.stderr}`);
}

async function main(demo: DemoApp): Promise<number> {
  const { path: app, remove } = makeTempDir("demo");
  cpSync(path.join(REPO, "templates", demo.template), app, { recursive: true });
  // The demo app uses this checkout as party-shard, and its packages (partykit or wrangler and partyserver, partysocket): nothing to download.
  linkNodeModules(app, REPO);
  console.log(pc.bold(`party-shard demo: ${demo.intro}\ncopied to ${app}`));
  try {
    // A shard per 5 clients: verify's 20 fill all 4 shards (a real room's target is hundreds: `party-shard plan`).
    await step(`${demo.initTitle}; a room opens a shard per 5 clients, up to 4`, ["init", "--shard-target", "5"], app);
    await step("route sockets and sends through the router; the party leads its shards", ["migrate"], app);
    console.log(pc.bold(pc.cyan("\n$ npx party-shard check")) + pc.dim("  # what CI would run"));
    const check = await party(["check"], app);
    console.log(check.stdout);
    console.log(pc.bold(pc.cyan("\n$ npx party-shard verify")) + pc.dim(`  # real ${demo.devServer}, real partysocket clients`));
    const verify = await execa(process.execPath, [CLI, "verify", ...(NO_COLOR_FLAG ? ["--no-color"] : [])], { cwd: app, reject: false, stdio: "inherit" });
    return verify.exitCode ?? 1;
  } finally {
    remove();
  }
}

process.exitCode = await main(process.argv.includes("--partyserver") ? APPS.partyserver : APPS.partykit);

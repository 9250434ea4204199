import { Command } from "commander";
import { InterruptedError, type ExitCode } from "../errors.js";
import type { ActionRunner, CommandContext } from "./context.js";
import { PROJECT_FLAGS, withFlags, type OptionsOf } from "./flags.js";
import { exitCodesHelp } from "./shared.js";
import { resolveVerifyOptions, type VerifyOptions } from "./verify-options.js";
import type { VerifyRun } from "./verify-report.js";
import type { VerifyTarget } from "../platforms/adapter.js";

// The first writes, or the first seconds of writing, after which a party that delivered none of them is stopped.
const EARLY_STOP = { writes: 5, ms: 4_000 };

const VERIFY_FLAGS = [
  ...PROJECT_FLAGS,
  "clients",
  "messages",
  "payload",
  "setup",
  "setupHeader",
  "count",
  "verifyConfig",
  "compare",
  "router",
  ["json", "print the measurements as JSON"],
  ["yes", "accepted for symmetry; verify never prompts"],
  "color",
] as const;
type VerifyCommandOptions = OptionsOf<typeof VERIFY_FLAGS>;

export function verifyCommand(run: ActionRunner): Command {
  return withFlags(
    new Command("verify").description("boot the project's partykit dev (PartyKit) or wrangler dev (PartyServer), connect clients through the router, and measure delivery beside the same run straight to the room"),
    VERIFY_FLAGS,
  )
    .addHelpText(
      "after",
      `\nExamples:\n  $ party-shard verify\n  $ party-shard verify --payload '{"type":"chat","text":"{id}"}'\n  $ party-shard verify --setup 'POST /parties/main/{room} {"title":"Lunch?","options":["pizza","sushi"]}' --payload '{"type":"vote","option":0}' --count any\n  $ party-shard verify --clients 50 --messages 500 --json\n\nparty-shard.verify.json (JSON5; --setup, --payload and --count win over it):\n  { "setup": [{ "method": "POST", "path": "/parties/main/{room}", "body": { "title": "Lunch?", "options": ["pizza", "sushi"] } }],\n    "payload": "{\\"type\\":\\"vote\\",\\"option\\":0}", "count": "any" }\n${exitCodesHelp([
        [0, "every message reached every client exactly once (--count any: some frame after every write)"],
        [1, "messages were lost or duplicated, a setup request failed, or the dev server (partykit dev, wrangler dev) did not start"],
        [2, "bad input (flags, verify config, no router, the dev server not installed or too old); nothing started"],
        [130, "interrupted (Ctrl-C); the dev server is stopped"],
      ])}`,
    )
    .action(run(VERIFY_FLAGS, verify));
}

export async function verify(context: CommandContext<VerifyCommandOptions>): Promise<ExitCode> {
  const { openProject } = await import("../platforms/index.js");
  const { options } = context;
  const project = await openProject(options.cwd, options);
  const target = await project.verifyTarget(options.router);
  // Every input is checked before the dev server starts: bad input starts nothing.
  const verifyOptions = resolveVerifyOptions(options, options.cwd, target.root, { known: target.parties, sharded: target.party?.url ?? "", router: target.router });
  const { withSignalsTrapped } = await import("../infra/signals.js");
  // Ctrl-C, a kill or a closed terminal stops the measurement and the dev server; then the CLI exits 130, 143 or 129.
  return withSignalsTrapped((signal) => measure(context, target, verifyOptions, signal));
}

async function measure(context: CommandContext<VerifyCommandOptions>, target: VerifyTarget, verifyOptions: VerifyOptions, signal: AbortSignal): Promise<ExitCode> {
  const { options, logger } = context;
  const { createStatusLine } = await import("../ui/status-line.js");
  const { makeTempDir } = await import("../infra/temp-dir.js");
  const { renderReport, jsonReport, errorLines } = await import("./verify-report.js");
  const { devServer } = target;

  // A status line on a terminal; plain progress lines in CI logs.
  const progress = process.stdout.isTTY && !options.json ? createStatusLine(process.stdout) : undefined;
  const say = (text: string) => (progress ? progress.show(text) : logger.step(text));
  say(`Starting ${devServer} in ${target.root}`);
  // The probe's rooms live in a folder of their own, removed afterwards: the project's
  // .partykit/ or .wrangler/state (and any state the developer keeps there) is never touched.
  const state = makeTempDir("verify-state");
  try {
    const server = await target.start({ signal, persist: state.path }).catch((error: unknown) => {
      progress?.end(error instanceof InterruptedError ? "Interrupted" : `${devServer} did not start`);
      throw stopped(error, devServer);
    });
    try {
      const room = `party-shard-verify-${Date.now().toString(36)}`;
      const sharded = await probeRun(target, verifyOptions, { host: server.host, viewToken: server.viewToken, room, sharded: true, signal, say, everyWrite: progress !== undefined });
      const unsharded =
        verifyOptions.compare && target.party ? await probeRun(target, verifyOptions, { host: server.host, viewToken: server.viewToken, room: `${room}-direct`, sharded: false, signal, say, everyWrite: progress !== undefined }) : undefined;
      progress?.end("Measured");
      const ok = sharded.result !== undefined && sharded.result.lost === 0 && sharded.result.duplicates === 0 && !sharded.result.stoppedEarly;
      // A party that throws on a message answers the write all the same (as a socket would
      // not know either); what it logged is the only trace of why nothing arrived.
      const partyErrors = ok ? [] : errorLines(server.output());
      const input = { ok, target, options: verifyOptions, sharded, unsharded, partyErrors };
      if (options.json) context.stdout(JSON.stringify(jsonReport(input), null, 2));
      else logger.raw(renderReport(input, logger.colors));
      return ok ? 0 : 1;
    } catch (error) {
      progress?.end(error instanceof InterruptedError ? "Interrupted" : "Measuring failed");
      throw stopped(error, devServer);
    } finally {
      await server.stop();
    }
  } finally {
    state.remove();
  }
}

interface RunPlace {
  host: string;
  /** The dev server's load view token: the router's view answers with it only. */
  viewToken: string;
  room: string;
  /** Through the router (as migrated clients), or straight to the party's own room. */
  sharded: boolean;
  signal: AbortSignal;
  say: (text: string) => void;
  /** On a terminal's status line every write is shown; in a log, every quarter. */
  everyWrite: boolean;
}

/** One run: the setup requests for its room, then the probe, unless a setup request failed. */
async function probeRun(target: VerifyTarget, options: VerifyOptions, place: RunPlace): Promise<VerifyRun> {
  const { sendSetupRequests, setupSucceeded } = await import("../infra/setup-requests.js");
  const { runDeliveryProbe } = await import("../infra/delivery-probe.js");
  const { clients, messages } = options;
  const party = place.sharded ? target.router : target.party!.url;
  const label = place.sharded ? `through "${target.router}"` : `straight to "${party}" (unsharded)`;
  const via = place.sharded && target.party ? { party: target.party.url, router: target.router } : undefined;
  const setup = options.setup.length > 0 ? await sendSetupRequests(place.host, options.setup, place.room, via) : [];
  if (setup.some((outcome) => !setupSucceeded(outcome.status))) return { sharded: place.sharded, setup };
  place.say(`Connecting ${clients} clients ${label} and publishing ${messages} messages`);
  const result = await runDeliveryProbe({
    host: place.host,
    party,
    room: place.room,
    // Sharded: a client's own message, through the router, as migrated clients write. Unsharded: on its socket, as before migrate.
    publish: place.sharded ? { kind: "write" } : { kind: "socket" },
    ...(place.sharded ? { router: target.router, viewToken: place.viewToken } : {}),
    payload: options.payload,
    count: options.count,
    clients,
    messages,
    earlyStop: EARLY_STOP,
    signal: place.signal,
    onProgress: (sent) => {
      if (place.everyWrite || sent % Math.max(1, Math.floor(messages / 4)) === 0) place.say(`${sent}/${messages} published${place.sharded ? "" : " (unsharded)"}`);
    },
  });
  return { sharded: place.sharded, setup, result };
}

/** An interruption says that the dev server is gone too (the `finally` that stops it runs before the CLI reports). */
function stopped(error: unknown, devServer: string): unknown {
  return error instanceof InterruptedError ? new InterruptedError(error.signal, `${devServer} was stopped.`) : error;
}

import { Command } from "commander";
import { InterruptedError, PartyShardError, type ExitCode } from "../errors.js";
import type { ProbeResult } from "../infra/delivery-probe.js";
import { DEFAULT_PAYLOAD, PAYLOAD_ID, fillPayload } from "../infra/probe-payload.js";
import type { Colors } from "../ui/colour.js";
import type { CommandContext } from "./settle-plan.js";
import { exitCodesHelp, noColorOption, parseIntegerOption, platformOption, type ActionRunner } from "./shared.js";

const MAX_PAYLOAD_BYTES = 64 * 1024;

export function verifyCommand(run: ActionRunner<CommandContext>): Command {
  return new Command("verify")
    .description("boot the project's partykit dev (PartyKit) or wrangler dev (PartyServer), connect clients through the router, and measure delivery")
    .option("--cwd <dir>", "run as if started in this folder")
    .option("--config <file>", "PartyKit or wrangler config to use (default: found like partykit and wrangler do)")
    .addOption(platformOption())
    .option("--clients <n>", "clients to connect through the router", "20")
    .option("--messages <n>", "messages to publish through the router", "100")
    .option("--payload <template>", `each message, with {id} where its token goes (default: ${DEFAULT_PAYLOAD})`)
    .option("--router <name>", "router party to verify (default: the one party-shard init generated)")
    .option("--json", "print the measurements as JSON")
    .option("-y, --yes", "accepted for symmetry; verify never prompts")
    .addOption(noColorOption())
    .addHelpText(
      "after",
      `\nExamples:\n  $ party-shard verify\n  $ party-shard verify --payload '{"type":"chat","text":"{id}"}'\n  $ party-shard verify --clients 50 --messages 500 --json\n${exitCodesHelp([
        [0, "every message reached every client exactly once"],
        [1, "messages were lost or duplicated, or the dev server (partykit dev, wrangler dev) did not start"],
        [2, "bad input (flags, config, no router, the dev server not installed)"],
        [130, "interrupted (Ctrl-C); the dev server is stopped"],
      ])}`,
    )
    .action(run(verify));
}

interface VerifyOptions {
  clients: number;
  messages: number;
  payload: string | undefined;
  router: string | undefined;
}

/** verify's own flags, checked once, before the dev server is started. */
function parseVerifyOptions(raw: Record<string, unknown>): VerifyOptions {
  return {
    clients: parseIntegerOption("--clients", raw.clients, 1, 1_000),
    messages: parseIntegerOption("--messages", raw.messages, 1, 100_000),
    payload: raw.payload === undefined ? undefined : parsePayload(String(raw.payload)),
    router: typeof raw.router === "string" ? raw.router : undefined,
  };
}

function parsePayload(template: string): string {
  if (!template.includes(PAYLOAD_ID)) {
    throw new PartyShardError(`--payload must contain {id}, where each message's token goes; got ${JSON.stringify(template.slice(0, 80))}.`, {
      hint: `verify finds a message in what clients receive by its token. Example: --payload '{"type":"chat","text":"{id}"}'`,
    });
  }
  if (Buffer.byteLength(template) > MAX_PAYLOAD_BYTES) throw new PartyShardError(`--payload is over ${MAX_PAYLOAD_BYTES / 1024} KB.`);
  if (/^\s*[[{]/.test(template)) {
    try {
      JSON.parse(fillPayload(template, "party-shard-probe:0:0"));
    } catch (error) {
      throw new PartyShardError(`--payload looks like JSON but is not: ${(error as Error).message}.`, {
        hint: "Quote it for your shell, e.g. --payload '{\"type\":\"chat\",\"text\":\"{id}\"}' ({id} goes inside a string).",
      });
    }
  }
  return template;
}

export async function verify(context: CommandContext, raw: Record<string, unknown>): Promise<ExitCode> {
  const options = parseVerifyOptions(raw);
  const { withSignalsTrapped } = await import("../infra/signals.js");
  // Ctrl-C, a kill or a closed terminal stops the measurement and the dev server; then the CLI exits 130, 143 or 129.
  return withSignalsTrapped((signal) => measure(context, options, signal));
}

async function measure(context: CommandContext, verifyOptions: VerifyOptions, signal: AbortSignal): Promise<ExitCode> {
  const { options, logger } = context;
  const { clients, messages, payload } = verifyOptions;
  const { loadProject } = await import("../core/project.js");
  const { verifyTarget } = await import("./verify-target.js");
  const { runDeliveryProbe } = await import("../infra/delivery-probe.js");
  const { createStatusLine } = await import("../ui/status-line.js");
  const { makeTempDir } = await import("../infra/temp-dir.js");
  const project = await loadProject(options.cwd, { config: options.config, platform: options.platform });
  const target = await verifyTarget(project, verifyOptions.router);
  const { router, devServer } = target;

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
      say(`Connecting ${clients} clients through "${router}" and publishing ${messages} messages`);
      const result = await runDeliveryProbe({
        host: server.host,
        party: router,
        router,
        room: `party-shard-verify-${Date.now().toString(36)}`,
        viewToken: server.viewToken,
        // As migrated clients write: a client's own message, through the router.
        publish: { kind: "write" },
        payload,
        clients,
        messages,
        signal,
        onProgress: (sent) => {
          if (progress || sent % Math.max(1, Math.floor(messages / 4)) === 0) say(`${sent}/${messages} published`);
        },
      });
      progress?.end("Measured");
      const ok = result.lost === 0 && result.duplicates === 0;
      // A party that throws on a message answers the write all the same (as a socket would
      // not know either); what it logged is the only trace of why nothing arrived.
      const partyErrors = ok ? [] : errorLines(server.output());
      if (options.json) context.stdout(JSON.stringify({ ok, platform: project.platform, router, ...result, partyErrors }, null, 2));
      else logger.raw(report(result, partyErrors, ok, logger.colors));
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

/** An interruption says that the dev server is gone too (the `finally` that stops it runs before the CLI reports). */
function stopped(error: unknown, devServer: string): unknown {
  return error instanceof InterruptedError ? new InterruptedError(error.signal, `${devServer} was stopped.`) : error;
}

/** Up to three distinct error lines the dev server printed (the party's own throws among them). */
function errorLines(output: string): string[] {
  // wrangler colours its errors even under NO_COLOR.
  const lines = output
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .map((line) => line.trim())
    // wrangler dev offline: the Request.cf fetch fails at every start, harmless and not the party's.
    .filter((line) => /\b(?:\w*Error|error|Uncaught)\b/.test(line) && !line.includes("workers.cloudflare.com"));
  return [...new Set(lines)].slice(0, 3).map((line) => line.slice(0, 200));
}

function report(result: ProbeResult, partyErrors: string[], ok: boolean, pc: Colors): string {
  const ms = (value: number | null) => (value === null ? "— (no message reached every client)" : `${value.toFixed(1)} ms`);
  const rows: [string, string][] = [
    ["delivery", `${result.deliveryRatio.toFixed(3)} (${result.lost} lost of ${result.listeners * result.messages})`],
    ["duplicates", String(result.duplicates)],
    ["failed publishes", String(result.publishFailures)],
    ...result.failureReasons.map((reason): [string, string] => ["  answered", reason]),
    ...partyErrors.map((line): [string, string] => ["  party logged", line]),
    ["fan-out latency p50", ms(result.latencyMs.p50)],
    ["fan-out latency p99", ms(result.latencyMs.p99)],
    ["clients per shard", result.shardLoad ? result.shardLoad.map((count, i) => `${i + 1}: ${count}`).join(", ") : "(the router did not answer its load view)"],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const verdict = ok ? pc.green("verify: every message reached every client exactly once") : pc.red("verify: messages were lost or duplicated");
  const lines = [...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`), verdict];
  if (result.deliveryRatio === 0 && result.publishFailures === 0) {
    lines.push("The router took every message, yet no client received one: does the party broadcast messages shaped like the probe's? Pass --payload shaped like your clients' messages, with {id} in a field the party passes on.");
  }
  return lines.join("\n");
}

import { Command } from "commander";
import { InterruptedError, type ExitCode } from "../errors.js";
import type { ProbeResult } from "../infra/delivery-probe.js";
import type { Colors } from "../ui/colour.js";
import type { CommandContext } from "./settle-plan.js";
import { noColorOption, parseIntegerOption, type ActionRunner } from "./shared.js";

export function verifyCommand(run: ActionRunner<CommandContext>): Command {
  return new Command("verify")
    .description("boot the project's partykit dev, connect clients through the router, and measure delivery")
    .option("--cwd <dir>", "run as if started in this folder")
    .option("--config <file>", "PartyKit config to use (default: found like partykit does)")
    .option("--clients <n>", "clients to connect through the router", "20")
    .option("--messages <n>", "messages to publish through the router", "100")
    .option("--router <name>", "router party to verify (default: the one party-shard init generated)")
    .option("--json", "print the measurements as JSON")
    .addOption(noColorOption())
    .addHelpText("after", "\nExamples:\n  $ party-shard verify\n  $ party-shard verify --clients 50 --messages 500 --json\n")
    .action(run(verify));
}

export async function verify(context: CommandContext, raw: Record<string, unknown>): Promise<ExitCode> {
  const { withSignalsTrapped } = await import("../infra/signals.js");
  // Ctrl-C, a kill or a closed terminal stops the measurement and partykit dev; then the CLI exits 130, 143 or 129.
  return withSignalsTrapped((signal) => measure(context, raw, signal));
}

async function measure(context: CommandContext, raw: Record<string, unknown>, signal: AbortSignal): Promise<ExitCode> {
  const { options, logger } = context;
  const clients = parseIntegerOption("--clients", raw.clients, 1, 1_000);
  const messages = parseIntegerOption("--messages", raw.messages, 1, 100_000);
  const { loadConfig } = await import("../core/config/load-config.js");
  const { findRouter } = await import("../core/migrate/find-router.js");
  const { projectReader } = await import("../infra/project-reader.js");
  const { startPartykitDev } = await import("../infra/partykit-dev.js");
  const { runDeliveryProbe } = await import("../infra/delivery-probe.js");
  const { createStatusLine } = await import("../ui/status-line.js");
  const loaded = await loadConfig(options.cwd, options.config);
  const router = typeof raw.router === "string" ? raw.router : (await findRouter(loaded, projectReader(loaded))).routerParty;

  // A status line on a terminal; plain progress lines in CI logs.
  const progress = process.stdout.isTTY && !options.json ? createStatusLine(process.stdout) : undefined;
  const say = (text: string) => (progress ? progress.show(text) : logger.step(text));
  say(`Starting partykit dev in ${loaded.root}`);
  const server = await startPartykitDev({ cwd: loaded.root, signal }).catch((error: unknown) => {
    progress?.end(error instanceof InterruptedError ? "Interrupted" : "partykit dev did not start");
    throw stopped(error);
  });
  try {
    say(`Connecting ${clients} clients through "${router}" and publishing ${messages} messages`);
    const result = await runDeliveryProbe({
      host: server.host,
      party: router,
      router,
      room: `party-shard-verify-${Date.now().toString(36)}`,
      // As migrated clients write: a client's own message, through the router.
      publish: { kind: "write" },
      clients,
      messages,
      signal,
      onProgress: (sent) => {
        if (progress || sent % Math.max(1, Math.floor(messages / 4)) === 0) say(`${sent}/${messages} published`);
      },
    });
    progress?.end("Measured");
    const ok = result.lost === 0 && result.duplicates === 0;
    if (options.json) context.stdout(JSON.stringify({ ok, router, ...result }, null, 2));
    else logger.raw(report(result, ok, logger.colors));
    return ok ? 0 : 1;
  } catch (error) {
    progress?.end(error instanceof InterruptedError ? "Interrupted" : "Measuring failed");
    throw stopped(error);
  } finally {
    await server.stop();
  }
}

/** An interruption says that partykit dev is gone too (the `finally` that stops it runs before the CLI reports). */
function stopped(error: unknown): unknown {
  return error instanceof InterruptedError ? new InterruptedError(error.signal, "partykit dev was stopped.") : error;
}

function report(result: ProbeResult, ok: boolean, pc: Colors): string {
  const ms = (value: number | null) => (value === null ? "— (no message reached every client)" : `${value.toFixed(1)} ms`);
  const rows: [string, string][] = [
    ["delivery", `${result.deliveryRatio.toFixed(3)} (${result.lost} lost of ${result.listeners * result.messages})`],
    ["duplicates", String(result.duplicates)],
    ["failed publishes", String(result.publishFailures)],
    ...result.failureReasons.map((reason): [string, string] => ["  answered", reason]),
    ["fan-out latency p50", ms(result.latencyMs.p50)],
    ["fan-out latency p99", ms(result.latencyMs.p99)],
    ["clients per shard", result.shardLoad ? result.shardLoad.map((count, i) => `${i + 1}: ${count}`).join(", ") : "(the router did not answer its load view)"],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const verdict = ok ? pc.green("verify: every message reached every client exactly once") : pc.red("verify: messages were lost or duplicated");
  return [...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`), verdict].join("\n");
}

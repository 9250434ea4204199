import { PACKAGE_VERSION as version } from "./infra/package-files.js";
import { Command, CommanderError, Help, type Option } from "commander";
import { InterruptedError, PartyShardError, TRAPPED_SIGNALS, type ExitCode } from "./errors.js";
import { initCommand } from "./commands/init.js";
import { checkCommand } from "./commands/check.js";
import { migrateCommand } from "./commands/migrate.js";
import { verifyCommand } from "./commands/verify.js";
import { planCommand } from "./commands/plan.js";
import type { ActionRunner, CommandAction } from "./commands/context.js";
import { decidePalette, type Colors } from "./ui/colour.js";
import { wantsJson, writeErrorReport } from "./ui/error-report.js";
import { parseFlags, type FlagUse } from "./commands/flags.js";


/** Runs the CLI and returns its exit code: 0 done, 1 work left or failed, 2 bad input. */
export async function main(argv: string[]): Promise<number> {
  let exitCode: number = 0;
  // `party-shard migrate --dry-run | head` closes the pipe early: the reader has all it wanted,
  // so later writes are dropped rather than crashing the run halfway.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  const run: ActionRunner = (uses, action) => async (raw) => {
    exitCode = await runAction(uses, action as CommandAction<unknown>, raw);
  };
  const program = new Command("party-shard")
    .description("Shard a PartyKit room across many rooms, and prove it works.")
    .version(version, "-v, --version")
    .exitOverride()
    .addHelpText("after", "\nExamples:\n  $ npx party-shard init --shards 8\n  $ npx party-shard migrate --dry-run\n\nExit codes: 0 done, 1 work left or failed, 2 bad input, 130 interrupted (each command's --help says more).\nColour only on a terminal; --no-color, NO_COLOR=1 or FORCE_COLOR=0 turn it off, FORCE_COLOR=1 on.\n")
    .addCommand(initCommand(run))
    .addCommand(migrateCommand(run))
    .addCommand(checkCommand(run))
    .addCommand(verifyCommand(run))
    .addCommand(planCommand(run));
  for (const command of [program, ...program.commands]) {
    command.exitOverride().configureHelp({ optionDescription: unquotedDefaults }).configureOutput({
      writeErr: (text) => process.stderr.write(text),
      outputError: (text) => usageError(text, command === program ? "party-shard --help" : `party-shard ${command.name()} --help`, wantsJson(argv)),
    });
  }
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version arrive here with exit code 0; usage errors are bad input.
      return error.exitCode === 0 ? 0 : 2;
    }
    throw error;
  }
  return exitCode;
}

async function runAction(uses: readonly FlagUse[], action: CommandAction<unknown>, raw: Record<string, unknown>): Promise<ExitCode> {
  const json = raw.json === true;
  // Loaded here rather than at the top, so `--help` and `--version` do not pay for @clack/prompts.
  const { createLogger } = await import("./ui/logger.js");
  const { createPrompts } = await import("./ui/prompts.js");
  const { createProgressLine } = await import("./ui/progress-line.js");
  const { turnOffLibraryColour } = await import("./ui/colour.js");
  const palette = decidePalette(raw.color === false);
  if (!palette.stdout.isColorSupported) turnOffLibraryColour();
  const logger = createLogger({ silent: json, colors: palette.stdout });
  try {
    const options = parseFlags(uses, raw);
    return await action({
      options,
      logger,
      prompts: createPrompts({ yes: raw.yes === true, json }),
      stdout: (text) => process.stdout.write(`${text}\n`),
      progress: process.stderr.isTTY && !json ? createProgressLine(process.stderr) : undefined,
    });
  } catch (error) {
    // Stopped by a signal and put back, the run is on its way out: another Ctrl-C must not cut it short.
    if (error instanceof InterruptedError) for (const signal of TRAPPED_SIGNALS) process.on(signal, () => undefined);
    return reportError(error, json, palette.stderr);
  }
}

/**
 * Commander's usage errors ("error: unknown option '--shardz'") in the shape of the project's
 * own, so a typo and an out-of-range --shards read alike: one error line, then one hint; with
 * --json, the same JSON object on stdout as any other error.
 */
function usageError(text: string, help: string, json: boolean): void {
  const colors = decidePalette(process.argv.includes("--no-color")).stderr;
  const [first = "", ...rest] = text.trimEnd().replace(/^error: /, "").split("\n");
  // Commander's "(Did you mean --shards?)" is the better hint when it has one.
  const suggestion = rest.join(" ").replace(/^\((.*)\)$/, "$1");
  writeErrorReport({ message: first, hint: suggestion || `${help} lists what it takes.`, exitCode: 2 }, { json, colors });
}

/** Commander quotes string defaults and choices (`default: "20"`); on the command line they are typed bare. */
function unquotedDefaults(this: Help, option: Option): string {
  const text = Help.prototype.optionDescription.call(this, option);
  const own = option.description ?? "";
  return own + text.slice(own.length).replace(/"([^"\s]*)"/g, "$1");
}

function reportError(error: unknown, json: boolean, colors: Colors): ExitCode {
  const known = error instanceof PartyShardError;
  const exitCode: ExitCode = known ? error.exitCode : 1;
  const message = error instanceof Error ? error.message : String(error);
  writeErrorReport({ message, hint: known ? error.hint : undefined, location: known ? error.location : undefined, exitCode }, { json, colors });
  if (process.env.DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  else if (!known) process.stderr.write(colors.dim("Set DEBUG=1 for the stack trace.\n"));
  return exitCode;
}

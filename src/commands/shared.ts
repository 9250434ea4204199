import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { Option, type Command } from "commander";
import { PartyShardError, type ExitCode } from "../errors.js";
import type { OnProgress } from "../core/plan.js";
import { VENDOR_DIR } from "../core/package-info.js";
import { PLATFORMS, type Platform } from "../core/platform.js";
import type { ProgressLine } from "../ui/progress-line.js";

/** Flags every writing command takes, parsed once here. */
export interface SharedOptions {
  cwd: string;
  config?: string;
  /** Set only by --platform: which platform to take when a project has configs of both. */
  platform?: Platform;
  dryRun: boolean;
  yes: boolean;
  json: boolean;
  force: boolean;
  verbose: boolean;
  /** --vendor (true) or --no-vendor (false); unset: the generated files keep importing the runtime as they do. */
  vendor?: boolean;
}

export function withSharedOptions(command: Command): Command {
  return command
    .option("--cwd <dir>", "run as if started in this folder")
    .option("--config <file>", "PartyKit or wrangler config to use (default: found like partykit and wrangler do)")
    .addOption(platformOption())
    .option("--dry-run", "print the diff and write nothing")
    .option("-y, --yes", "never prompt; take the defaults")
    .option("--json", "print the plan and findings, or the error, as JSON on stdout")
    .option("--force", "replace files that party-shard generated and you edited since")
    .option("--verbose", "show generated files in full, not as one line each")
    .option("--vendor", `copy the runtime's modules into the project (${VENDOR_DIR}/ beside the generated files) instead of importing the party-shard package`)
    .option("--no-vendor", "import the runtime from the party-shard package (the default)")
    .addOption(noColorOption());
}

/** Breaks the tie when a project has both a PartyKit config and a PartyServer wrangler config. */
export function platformOption(): Option {
  return new Option("--platform <platform>", `${PLATFORMS.join(" or ")} (default: told by the config found)`);
}

/** On every command, so each one's --help lists it; NO_COLOR=1 and FORCE_COLOR=0 do the same. */
export function noColorOption(): Option {
  return new Option("--no-color", "plain text, no colour (default: colour only on a terminal)");
}

export function parseSharedOptions(raw: Record<string, unknown>): SharedOptions {
  const cwd = path.resolve(String(raw.cwd ?? process.cwd()));
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) {
    throw new PartyShardError(`--cwd ${cwd} is not a folder.`);
  }
  return {
    cwd,
    config: typeof raw.config === "string" ? raw.config : undefined,
    platform: parsePlatform(raw.platform),
    dryRun: raw.dryRun === true,
    yes: raw.yes === true,
    json: raw.json === true,
    force: raw.force === true,
    verbose: raw.verbose === true,
    vendor: typeof raw.vendor === "boolean" ? raw.vendor : undefined,
  };
}

function parsePlatform(value: unknown): Platform | undefined {
  if (value === undefined) return undefined;
  if (PLATFORMS.includes(value as Platform)) return value as Platform;
  throw new PartyShardError(`--platform must be ${PLATFORMS.join(" or ")}; got "${String(value)}".`);
}

/** Parses a whole number flag within [min, max], or throws a bad-input error naming the flag. */
export function parseIntegerOption(flag: string, value: unknown, min: number, max: number): number {
  const text = String(value);
  const number = Number(text);
  if (!/^\d+$/.test(text) || number < min || number > max) {
    throw new PartyShardError(`${flag} must be a whole number from ${min} to ${max}; got "${text}".`);
  }
  return number;
}

/** What init and migrate exit with, for their --help. */
export const WRITING_EXIT_CODES: [number, string][] = [
  [0, "written, or nothing to do (--dry-run: nothing written)"],
  [1, "declined at the prompt; nothing written"],
  [2, "bad input (flags, config, files); nothing written"],
  [130, "interrupted (Ctrl-C); every file put back as it was"],
];

/** The "Exit codes" section of a command's --help. */
export function exitCodesHelp(codes: [number, string][]): string {
  return `\nExit codes:\n${codes.map(([code, meaning]) => `  ${String(code).padEnd(4)}${meaning}`).join("\n")}\n`;
}

/** A command's work: gets the parsed shared context and its own raw flags, returns the exit code. */
export type CommandAction<Context> = (context: Context, raw: Record<string, unknown>) => Promise<ExitCode>;

/** Supplied by `cli.ts`: wraps an action with context creation and error-to-exit-code mapping. */
export type ActionRunner<Context> = (action: CommandAction<Context>) => (raw: Record<string, unknown>) => Promise<void>;

/** Runs a planner with the progress line, which is erased before anything else is printed. */
export async function withProgress<T>(progress: ProgressLine | undefined, run: (onProgress: OnProgress | undefined) => Promise<T>): Promise<T> {
  try {
    return await run(progress?.update);
  } finally {
    progress?.clear();
  }
}

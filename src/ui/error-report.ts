import { formatLocation, type SourceLocation } from "../errors.js";
import type { Colors } from "./colour.js";

/** One failure as the user sees it, whether commander or a command found it. */
export interface ErrorReport {
  message: string;
  hint?: string;
  location?: SourceLocation;
  exitCode: number;
}

/**
 * `error: <message>` and `hint: <what to do>` on stderr; with `--json`, the same as one JSON
 * object on stdout too, where every `--json` output goes, so a script reading stdout always gets
 * JSON: `{ "summary", "error", "hint" (null when there is none), "location" (when known),
 * "exitCode" }`. The summary opens it as it opens every command's output: the command, nothing
 * changed, and the next step (the hint).
 */
export function writeErrorReport(report: ErrorReport, options: { json: boolean; colors: Colors }): void {
  if (options.json) process.stdout.write(`${JSON.stringify(errorJson(report, commandIn(process.argv.slice(2))), null, 2)}\n`);
  const { red, dim } = options.colors;
  const where = report.location ? `${formatLocation(report.location)}: ` : "";
  process.stderr.write(`${red("error:")} ${where}${report.message}\n`);
  if (report.hint) process.stderr.write(`${dim("hint:")} ${report.hint}\n`);
}

export function errorJson({ message, hint, location, exitCode }: ErrorReport, command: string | null): Record<string, unknown> {
  return { summary: { command, filesChanged: 0, next: hint ?? null }, error: message, hint: hint ?? null, ...(location ? { location } : {}), exitCode };
}

const COMMANDS = ["init", "migrate", "check", "verify"];

/** The command a command line names (null: none of ours). */
export function commandIn(args: string[]): string | null {
  return args.find((arg) => COMMANDS.includes(arg)) ?? null;
}

/** Whether the command line asks for JSON: read from argv, since a usage error stops commander before it parses options. */
export function wantsJson(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

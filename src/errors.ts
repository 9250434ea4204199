/** Where in a file a problem is, 1-based like editors show it. */
export interface SourceLocation {
  file: string;
  line?: number;
  col?: number;
}

/**
 * 0 done, 1 work left or failed, 2 bad input; 129, 130, 143: stopped by SIGHUP, SIGINT or
 * SIGTERM (128 + the signal's number, as a shell reports it).
 */
export type ExitCode = 0 | 1 | 2 | 129 | 130 | 143;

/**
 * The one error type commands throw. `exitCode` 2 means the user's input is wrong
 * (bad flag, bad config); only `src/cli.ts` turns it into a process exit code.
 */
export class PartyShardError extends Error {
  readonly exitCode: ExitCode;
  readonly hint?: string;
  readonly location?: SourceLocation;

  constructor(
    message: string,
    options: { hint?: string; location?: SourceLocation; exitCode?: ExitCode; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "PartyShardError";
    this.exitCode = options.exitCode ?? 2;
    this.hint = options.hint;
    this.location = options.location;
  }
}

const SIGNAL_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;

/** The signals a command stops for cleanly instead of dying where it stands: Ctrl-C, kill, a closed terminal. */
export type TrappedSignal = keyof typeof SIGNAL_EXIT_CODES;

export const TRAPPED_SIGNALS = Object.keys(SIGNAL_EXIT_CODES) as TrappedSignal[];

/** A signal stopped the command, after it put things back; the process exits 128 + the signal's number. */
export class InterruptedError extends PartyShardError {
  readonly signal: TrappedSignal;

  constructor(signal: TrappedSignal, outcome?: string, options: { hint?: string } = {}) {
    super(`Interrupted by ${signal}${outcome ? `; ${outcome}` : "."}`, { exitCode: SIGNAL_EXIT_CODES[signal], hint: options.hint });
    this.name = "InterruptedError";
    this.signal = signal;
  }
}

/** `file:line:col`, dropping the parts that are unknown. */
export function formatLocation(location: SourceLocation): string {
  let text = location.file;
  if (location.line !== undefined) text += `:${location.line}`;
  if (location.line !== undefined && location.col !== undefined) text += `:${location.col}`;
  return text;
}

/** 1-based line and column of a 0-based offset into `text`. */
export function lineColAt(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const col = offset - (before.lastIndexOf("\n") + 1) + 1;
  return { line, col };
}

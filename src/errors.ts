/** Where in a file a problem is, 1-based like editors show it. */
export interface SourceLocation {
  file: string;
  line?: number;
  col?: number;
}

export type ExitCode = 0 | 1 | 2;

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

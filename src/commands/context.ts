import type { ExitCode } from "../errors.js";
import type { Logger } from "../ui/logger.js";
import type { ProgressLine } from "../ui/progress-line.js";
import type { Prompts } from "../ui/prompts.js";
import type { FlagUse, OptionsOf } from "./flags.js";

/** What every command's action gets: its options, checked, and the ways it talks to the user. */
export interface CommandContext<Options> {
  options: Options;
  logger: Logger;
  prompts: Prompts;
  /** Where `--json` output goes. */
  stdout: (text: string) => void;
  /** A progress line on stderr, only when it is a terminal and the output is not JSON. */
  progress: ProgressLine | undefined;
}

/** A command's work: gets its context, returns the exit code. */
export type CommandAction<Options> = (context: CommandContext<Options>) => Promise<ExitCode>;

/**
 * Supplied by `cli.ts`: parses the flags a command takes into its options, builds the context
 * around the action, and maps an error to an exit code.
 */
export type ActionRunner = <const Uses extends readonly FlagUse[]>(uses: Uses, action: CommandAction<OptionsOf<Uses>>) => (raw: Record<string, unknown>) => Promise<void>;

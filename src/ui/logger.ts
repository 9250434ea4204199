import type { Writable } from "node:stream";
import { log } from "@clack/prompts";
import picocolors from "picocolors";
import { stripColour, type Colors } from "./colour.js";

/** Everything a command prints goes through here, so `--json` can silence it in one place. */
export interface Logger {
  /** Colours for stdout: plain functions when colour is off. */
  colors: Colors;
  info(message: string): void;
  success(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  step(message: string): void;
  /** Text printed as it is (diffs, tables). */
  raw(text: string): void;
}

export function createLogger(options: { silent: boolean; colors?: Colors }): Logger {
  const colors = options.colors ?? picocolors.createColors(false);
  if (options.silent) {
    const quiet = () => undefined;
    return { colors, info: quiet, success: quiet, warn: quiet, error: quiet, step: quiet, raw: quiet };
  }
  // clack colours its symbols itself; on Node versions whose styleText ignores pipes and
  // NO_COLOR, this is what keeps plain output plain.
  const output = colors.isColorSupported ? process.stdout : { write: (text: string) => process.stdout.write(stripColour(text)) };
  const opts = { output: output as Writable };
  return {
    colors,
    info: (message) => log.info(message, opts),
    success: (message) => log.success(message, opts),
    warn: (message) => log.warn(message, opts),
    error: (message) => log.error(message, opts),
    step: (message) => log.step(message, opts),
    raw: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  };
}

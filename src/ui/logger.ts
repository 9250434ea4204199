import { log } from "@clack/prompts";

/** Everything a command prints goes through here, so `--json` can silence it in one place. */
export interface Logger {
  info(message: string): void;
  success(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  step(message: string): void;
  /** Text printed as it is (diffs, tables). */
  raw(text: string): void;
}

export function createLogger(options: { silent: boolean }): Logger {
  if (options.silent) {
    const quiet = () => undefined;
    return { info: quiet, success: quiet, warn: quiet, error: quiet, step: quiet, raw: quiet };
  }
  return {
    info: (message) => log.info(message),
    success: (message) => log.success(message),
    warn: (message) => log.warn(message),
    error: (message) => log.error(message),
    step: (message) => log.step(message),
    raw: (text) => process.stdout.write(text.endsWith("\n") ? text : `${text}\n`),
  };
}

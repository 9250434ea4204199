import { InterruptedError, TRAPPED_SIGNALS } from "../errors.js";

/**
 * Runs `work` with SIGINT, SIGTERM and SIGHUP trapped, so that none ends the process where it
 * stands: the first one aborts the AbortSignal `work` is given (its reason an
 * InterruptedError), and `work` stops at its next check and puts back what it started.
 * Signals that arrive while it does are absorbed. The handlers are removed when `work` ends,
 * so outside it Ctrl-C acts as usual.
 *
 * @example
 * await withSignalsTrapped(async (signal) => {
 *   for (const step of steps) {
 *     signal.throwIfAborted(); // throws InterruptedError("SIGINT") after Ctrl-C
 *     await step();
 *   }
 * });
 */
export async function withSignalsTrapped<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const handlers = TRAPPED_SIGNALS.map((name) => {
    const handler = () => {
      if (!controller.signal.aborted) controller.abort(new InterruptedError(name));
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  try {
    return await work(controller.signal);
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}

/** A promise that rejects with the signal's reason once it is aborted; never settles otherwise. */
export function whenAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

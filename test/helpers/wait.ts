/** Small waiting helpers the live suites share. */

/** Runs `task(0..count-1)` with at most `width` at a time; results in order. */
export async function pool<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Polls `done` every 50 ms until it holds or `timeoutMs` passed; the caller asserts what it needs. */
export async function until(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done()) && Date.now() < deadline) await sleep(50);
}

/** Polls `done` every 20 ms until it holds; fails naming `what` (and what `describe` tells) after `timeoutMs`. */
export async function waitFor(what: string, done: () => boolean, describe: () => string = () => "", timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}\n${describe()}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

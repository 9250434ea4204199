/**
 * The platform's input gate, for frames relayed by shards. A Durable Object takes no new event
 * while a storage call is in flight, so on a direct socket a handler that awaits storage runs to
 * its next non-storage await before the next message's handler starts. Relayed frames come many
 * to one event (a link message), so the leader gates them itself: the party's storage is wrapped,
 * and no frame is handed to the party while one of its storage calls is in flight.
 */

class InputGate {
  private pending = 0;
  private waiters: (() => void)[] = [];

  /** Resolves once none of the party's storage calls is in flight. */
  open(): Promise<void> {
    return this.when(() => undefined);
  }

  /**
   * Runs `step` once none of the party's storage calls is in flight, in the same microtask as the
   * check that none is: as the platform starts an event's handler. A handler woken with it may
   * call storage again before a waiter resumes (a read-modify-write between its get and put), so
   * each waiter looks again when it wakes.
   */
  async when<T>(step: () => T): Promise<T> {
    while (this.pending > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return step();
  }

  /** `storage` as the party sees it: each call that returns a promise holds the gate shut until it settles. */
  storage<S extends object>(storage: S): S {
    return new Proxy(storage, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => this.track((value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
  }

  private track<T>(result: T): T {
    const then = (result as { then?: unknown } | null)?.then;
    if (typeof then !== "function") return result;
    this.pending++;
    const done = () => {
      if (--this.pending > 0) return;
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((resolve) => resolve());
    };
    (result as unknown as PromiseLike<unknown>).then(done, done);
    return result;
  }
}

export { InputGate };

/**
 * A shard's clients waiting to see their socket open. Unsharded, both platforms send the 101
 * once the party's onConnect has settled, so whatever anyone sends after a client saw its socket
 * open reaches that client. Sharded, the shard's onConnect waits here until the leader took the
 * client's open (it acknowledged the open's frame number): a message another client sends after
 * that, on any shard or through the router, reaches the party after this client's onConnect.
 *
 * A wait also ends when the client goes (closed, refused), the shard starts afresh, or after
 * OPEN_WAIT_MS (the leader unreachable that long): then the client is greeted anyway.
 */

/** How long a client's onConnect waits for the leader to take its open. */
const OPEN_WAIT_MS = 10_000;

class OpenWaits {
  /** By the open's frame number. */
  private readonly waits = new Map<number, { id: string; socket: string; done: () => void }>();

  /** Resolves once `release` passes frame `seq` (the open of client `id`, its socket tagged `socket`), or OPEN_WAIT_MS passed. */
  wait(id: string, socket: string, seq: number, acked: number): Promise<void> {
    if (seq <= acked) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), OPEN_WAIT_MS);
      const done = () => {
        clearTimeout(timer);
        this.waits.delete(seq);
        resolve();
      };
      this.waits.set(seq, { id, socket, done });
    });
  }

  /** Ends the waits of opens numbered up to `acked`, and any of client `id` (gone meanwhile; `at`: that socket of it only). */
  release(acked: number, id?: string, at?: string) {
    for (const [seq, wait] of this.waits) if (seq <= acked || (wait.id === id && (at === undefined || wait.socket === at))) wait.done();
  }
}

export { OPEN_WAIT_MS, OpenWaits };

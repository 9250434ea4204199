/**
 * A shard's clients waiting to see their socket open. Unsharded, both platforms send the 101
 * once the party's onConnect has settled, so whatever anyone sends after a client saw its socket
 * open reaches that client. Sharded, the shard's onConnect waits here until the leader took the
 * client's open (it acknowledged the open's frame number): a message another client sends after
 * that, on any shard or through the router, reaches the party after this client's onConnect.
 *
 * A wait also ends when the client goes (closed, refused), the shard starts afresh, or after
 * OPEN_WAIT_MS (the leader unreachable that long): then the client is greeted anyway. When the
 * leader closes the socket meanwhile (its room failed to start), the wait ends with that close
 * and onConnect throws, so the platform closes the client's socket 1011, as it does for a direct
 * socket whose room fails to start (on wrangler dev the leader's close of a socket whose
 * onConnect had not returned never reached its client).
 */

/** How long a client's onConnect waits for the leader to take its open. */
const OPEN_WAIT_MS = 10_000;

/** The leader closed the socket while its onConnect waited. */
type Closed = { code: number; reason: string };

class OpenWaits {
  /** By the open's frame number. */
  private readonly waits = new Map<number, { id: string; socket: string; done: (closed?: Closed) => void }>();

  /** Resolves once `release` passes frame `seq` (the open of client `id`, its socket tagged `socket`), or OPEN_WAIT_MS passed; with the leader's close, if that ended it. */
  wait(id: string, socket: string, seq: number, acked: number): Promise<Closed | undefined> {
    if (seq <= acked) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), OPEN_WAIT_MS);
      const done = (closed?: Closed) => {
        clearTimeout(timer);
        this.waits.delete(seq);
        resolve(closed);
      };
      this.waits.set(seq, { id, socket, done });
    });
  }

  /**
   * Ends the waits of opens numbered up to `acked`, and any of client `id` (gone meanwhile; `at`:
   * that socket of it only), with `closed` if the leader closed it. Whether one of `id` waited.
   */
  release(acked: number, id?: string, at?: string, closed?: Closed): boolean {
    let waited = false;
    this.waits.forEach((wait, seq) => {
      const theirs = wait.id === id && (at === undefined || wait.socket === at);
      waited ||= theirs;
      if (seq <= acked || theirs) wait.done(theirs ? closed : undefined);
    });
    return waited;
  }
}

export { OPEN_WAIT_MS, OpenWaits, type Closed };

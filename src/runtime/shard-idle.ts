/**
 * Idle means asleep: a shard's link that carried nothing for IDLE_LINK_MS closes (shard.ts says
 * when it may), so the shard holds no outgoing socket and shard and leader can hibernate and be
 * evicted as the unsharded room is; the next event links again.
 */

/** How long a link may carry nothing before it closes. */
const IDLE_LINK_MS = 5_000;

class IdleLink {
  private lastActive = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** Whether the link may close now (there is one, nothing is owed, the leader's party hibernates). */
    private readonly mayClose: () => boolean,
    private readonly close: () => void,
  ) {}

  /** Something crossed the link: it stays up for IDLE_LINK_MS more. */
  active() {
    this.lastActive = Date.now();
    this.timer ??= setTimeout(() => this.check(), IDLE_LINK_MS);
  }

  private check() {
    this.timer = undefined;
    // Not now (frames unacknowledged, say): the next activity starts the wait again.
    if (!this.mayClose()) return;
    const quiet = Date.now() - this.lastActive;
    if (quiet < IDLE_LINK_MS) this.timer = setTimeout(() => this.check(), IDLE_LINK_MS - quiet);
    else this.close();
  }
}

export { IDLE_LINK_MS, IdleLink };

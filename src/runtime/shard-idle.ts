/**
 * Idle means asleep: a shard's link that carried nothing for IDLE_LINK_MS closes (shard.ts says
 * when it may), so the shard holds no outgoing socket and shard and leader can hibernate and be
 * evicted as the unsharded room is; the next event links again. A shard nobody is on (woken to
 * take frames for clients who left) closes its link after EMPTY_LINK_MS, whatever the party.
 */

/** How long a link may carry nothing before it closes. */
const IDLE_LINK_MS = 5_000;
/** The same, for the link of a shard nobody is on (woken to take frames for clients who left). */
const EMPTY_LINK_MS = 1_000;

class IdleLink {
  private lastActive = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the running wait ends. */
  private due = 0;

  constructor(
    /** Whether the link may close now (there is one, nothing is owed, and the leader's party hibernates or nobody is here). */
    private readonly mayClose: () => boolean,
    private readonly close: () => void,
    /** Whether nobody is on this shard: its link closes after EMPTY_LINK_MS. */
    private readonly empty: () => boolean = () => false,
  ) {}

  /** Something crossed the link: it stays up for IDLE_LINK_MS (EMPTY_LINK_MS) more. */
  active() {
    this.lastActive = Date.now();
    // A wait already running ends no later than this one would (it shrinks once nobody is here).
    if (this.timer === undefined || this.lastActive + this.quietMs() < this.due) this.wait(this.quietMs());
  }

  private wait(ms: number) {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.due = Date.now() + ms;
    this.timer = setTimeout(() => this.check(), ms);
  }

  private quietMs(): number {
    return this.empty() ? EMPTY_LINK_MS : IDLE_LINK_MS;
  }

  private check() {
    this.timer = undefined;
    // Not now (frames unacknowledged, say): the next activity starts the wait again.
    if (!this.mayClose()) return;
    const quiet = Date.now() - this.lastActive;
    if (quiet < this.quietMs()) this.wait(this.quietMs() - quiet);
    else this.close();
  }
}

export { EMPTY_LINK_MS, IDLE_LINK_MS, IdleLink };

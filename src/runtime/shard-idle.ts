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
  /** A socket left since a count last found someone here (or none was made yet). */
  private mayBeEmpty = true;

  constructor(
    /** Whether the link may close now (there is one, nothing is owed, and the leader's party hibernates or nobody is here). */
    private readonly mayClose: () => boolean,
    private readonly close: () => void,
    /** Whether nobody is on this shard: its link closes after EMPTY_LINK_MS. */
    private readonly empty: () => boolean = () => false,
  ) {}

  /**
   * Something crossed the link: it stays up for IDLE_LINK_MS (EMPTY_LINK_MS) more. This runs for
   * every frame, so who is here is looked at only when a wait ends (counting a shard's sockets
   * reads each one's state: per frame, a crowd connecting at once cost O(clients²)).
   */
  active() {
    this.lastActive = Date.now();
    if (this.timer === undefined) this.wait(EMPTY_LINK_MS);
  }

  /** A socket left: the next nobodyHere() counts the shard's sockets. */
  left() {
    this.mayBeEmpty = true;
  }

  /** Whether nobody is here: counted (each socket's state read) only if a socket left since a count found someone. */
  nobodyHere(): boolean {
    if (!this.mayBeEmpty) return false;
    this.mayBeEmpty = this.empty();
    return this.mayBeEmpty;
  }

  private wait(ms: number) {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), ms);
  }

  private quietMs(): number {
    return this.nobodyHere() ? EMPTY_LINK_MS : IDLE_LINK_MS;
  }

  private check() {
    this.timer = undefined;
    // Not now (frames unacknowledged, say): the next activity starts the wait again.
    if (!this.mayClose()) return;
    const [quiet, needed] = [Date.now() - this.lastActive, this.quietMs()];
    if (quiet < needed) this.wait(needed - quiet);
    else this.close();
  }
}

export { EMPTY_LINK_MS, IDLE_LINK_MS, IdleLink };

/**
 * What a shard has taken of its leader's frames. The leader numbers every frame it sends a
 * shard and keeps it until the shard says it got it (leader-fanout.ts): a frame lost with a
 * broken link is sent again on the next one, and one that comes twice is taken once.
 */
import type { LinkSocket } from "./host.js";
import type { ShardFrame } from "./protocol.js";

/**
 * When a shard says what it got, if it sends nothing the `got` could ride on: once no frame came
 * for GOT_AFTER_MS, and at the latest GOT_MAX_MS after the first it has not said. One `got`
 * covers every frame of that while, and each is an invocation of the leader: a shard whose
 * clients only receive (as with routed writes) said it every second through a long fan-out (at
 * 5,000 clients, as many leader events as the writes that made it). The leader keeps the frames
 * meanwhile, and asks with a `mark` once they pass 2 MiB (leader-fanout.ts): that bounds its
 * memory, so the time bound can be long. A `mark` is answered at once: a reconnect waits on it
 * too (leader-replace.ts).
 */
const GOT_AFTER_MS = 1_000;
const GOT_MAX_MS = 60_000;

class LeaderInbox {
  /** The leader whose numbering `got` counts in (its `welcome`); a new one starts again from 0. */
  private leader: string | undefined;
  private got = 0;
  private said = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the first frame not said yet, and the last one, came. */
  private firstAt = 0;
  private lastAt = 0;
  /** A `mark` came: what it got is said at the end of this turn. */
  private marked = false;
  /** The leader named itself on the current link: until then `got` may count another leader's frames, and is not said. */
  private met = false;
  /** The leader's party hibernates: only then may an idle link close (a party that does not stays in memory while it has clients). */
  hibernates = false;
  /** The leader takes routed writes on the link (shard-writes.ts). */
  writes = false;

  constructor(
    private readonly link: () => LinkSocket | undefined,
    /** Frames relayed but not sent yet (waiting for an ack, or merged for a while): a `got` goes with them, never before them. */
    private readonly pending: () => boolean = () => false,
  ) {}

  /** Whether the leader named itself on the current link. */
  get welcomed(): boolean {
    return this.met;
  }

  /** The leader named itself on a new link; true when it is another leader than before (or the first). */
  meet(leader: string, hibernates = false, writes = false): boolean {
    this.hibernates = hibernates;
    this.writes = writes;
    this.met = true;
    if (leader === this.leader) return false;
    this.leader = leader;
    this.got = 0;
    this.said = 0;
    return true;
  }

  /** Whether a frame numbered `n` is new (undefined: from a leader that does not number them); `mark`: it is a mark. */
  take(n: number | undefined, mark = false): boolean {
    if (n === undefined) return true;
    if (n <= this.got) return false;
    this.got = n;
    this.lastAt = Date.now();
    if (this.timer === undefined) {
      this.firstAt = this.lastAt;
      this.timer = setTimeout(() => this.due(), GOT_AFTER_MS);
    }
    if (mark && !this.marked) {
      this.marked = true;
      queueMicrotask(() => {
        this.marked = false;
        this.say();
      });
    }
    return true;
  }

  /** The timer fired: frames came since it was set, so it waits on (one timer a second, not one a frame), unless GOT_MAX_MS passed. */
  private due() {
    const now = Date.now();
    const wait = Math.min(this.lastAt + GOT_AFTER_MS, this.firstAt + GOT_MAX_MS) - now;
    if (wait > 0) this.timer = setTimeout(() => this.due(), wait);
    else this.say();
  }

  /** For the hello (on a new link): whose frames it took, up to which. */
  state(): { leader?: string; got: number } {
    this.met = false;
    return { ...(this.leader ? { leader: this.leader } : {}), got: this.got };
  }

  /** What it got, if it has not said so yet, to say with frames the shard sends now (one leader invocation less); undefined: nothing new. */
  sayWithFrames(): number | undefined {
    if (!this.met || this.got <= this.said) return undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    return (this.said = this.got);
  }

  /**
   * Says what it got now (before a link closes: nothing is left for the leader to send again),
   * unless frames wait to go: the leader takes a `got` to come after every frame relayed before.
   */
  say(link = this.link()) {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.met || this.got <= this.said || !link || link.readyState !== 1 || this.pending()) return;
    this.said = this.got;
    link.send(JSON.stringify({ t: "got", n: this.got } satisfies ShardFrame));
  }

  /** The shard starts a new incarnation: the leader numbers its frames to it afresh. */
  reset() {
    this.leader = undefined;
    this.met = false;
    this.hibernates = false;
    this.writes = false;
    this.got = 0;
    this.said = 0;
  }
}

export { GOT_AFTER_MS, GOT_MAX_MS, LeaderInbox };

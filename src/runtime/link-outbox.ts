/**
 * What the leader sends down one link within one turn goes as one link message, and the shard
 * takes each frame in it in order, as if it came alone. A connect has the leader send the
 * client's shard two or three frames (what it keeps of the client, the party's welcome) and an
 * acknowledgement: one message each was one event each at the shard, most of what a connect
 * cost there besides the party's own work.
 *
 * Only to a shard that said in its hello that it takes them (an older runtime does not), and
 * only text frames: one that carries bytes goes alone, after what waits before it. Each frame
 * keeps its number and is kept (and sent again) alone: a batch is only how frames travel.
 */
import type { LinkEnd } from "./host.js";
import type { Wire } from "./link-frames.js";

/** A batch closes at about this size; a larger one would save no event, only hold frames up. */
const BATCH_MAX_BYTES = 1_048_576;
/**
 * Microtask turns a batch waits before it goes, all within the leader's turn: the handler a
 * frame started (a connect's onConnect, past the runtime's own awaits) adds what it sends at
 * once. One turn sent a connect's acknowledgement and the party's welcome apart: 1.5 link
 * messages per connect on partykit dev, 1.0 with three.
 */
const TURNS = 3;

class LinkOutbox {
  /**
   * By link id (a host may hand out a new wrapper of the same socket at each call): the link,
   * the text frames waiting for the end of this turn, and their size.
   */
  private readonly pending = new Map<string, { link: LinkEnd; wires: string[]; bytes: number }>();
  private scheduled = false;

  /** `sent`: each link message that goes (the load view's `linkFramesOut`). */
  constructor(private readonly sent: () => void) {}

  /** Sends `wire` (`bytes` long) down `link`: with the others at the end of this turn (TURNS), if its shard takes batches. */
  send(link: LinkEnd, wire: Wire, bytes: number, batches: boolean) {
    if (!batches || typeof wire !== "string") {
      this.flush(link.id);
      return this.out(link, wire);
    }
    if ((this.pending.get(link.id)?.bytes ?? 0) + bytes > BATCH_MAX_BYTES) this.flush(link.id);
    const batch = this.pending.get(link.id) ?? { link, wires: [], bytes: 0 };
    this.pending.set(link.id, batch);
    batch.wires.push(wire);
    batch.bytes += bytes + 1;
    if (this.scheduled) return;
    this.scheduled = true;
    afterTurns(TURNS, () => {
      this.scheduled = false;
      const ids: string[] = [];
      this.pending.forEach((_batch, id) => ids.push(id));
      ids.forEach((id) => this.flush(id));
    });
  }

  /** What waits for link `id` goes now (before a frame that cannot join it). */
  private flush(id: string) {
    const batch = this.pending.get(id);
    if (!batch) return;
    this.pending.delete(id);
    // Each wire is a JSON object: the batch is their array, with no second encoding.
    this.out(batch.link, batch.wires.length === 1 ? batch.wires[0]! : `{"t":"frames","frames":[${batch.wires.join(",")}]}`);
  }

  /** A link closing but not yet closed: numbered frames wait for the next one (leader-fanout.ts), an acknowledgement is said again then. */
  private out(link: LinkEnd, wire: Wire) {
    if (link.readyState !== 1) return;
    this.sent();
    link.send(wire);
  }
}

/** Runs `run` after `turns` microtask turns (at least one). */
function afterTurns(turns: number, run: () => void) {
  queueMicrotask(() => (turns <= 1 ? run() : afterTurns(turns - 1, run)));
}

export { LinkOutbox };

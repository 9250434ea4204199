/**
 * Who may take a connection id at the leader once no socket holds it. An id is public, its key
 * is not: a keyed client's id stays its own for ID_GRACE_MS after its last socket closed, so a
 * squatter cannot take it while the client reconnects (and receive what the party sends it), and
 * its write numbers go on, so a captured write cannot run after newer ones.
 *
 * The shard that held the client keeps the same record (and its link to the leader) for as long,
 * and names it in its hello: a leader woken from hibernation learns it again.
 */
import { sameKey, type Departed } from "./protocol.js";

/** Departed ids remembered at most; past it the oldest goes first (ids ≤ 128 characters: ~10 MiB at most). */
const MAX_DEPARTED = 20_000;

class DepartedIds {
  private readonly entries = new Map<string, Departed>();

  /** A keyed client's last socket closed (or a shard says so): its id stays its key's until `until`. */
  remember(entry: Departed) {
    const now = Date.now();
    // Oldest first: the expired ones are (about) the head.
    for (const [id, old] of this.entries) {
      if (old.until > now) break;
      this.entries.delete(id);
    }
    if (entry.until <= now) return;
    const known = this.entries.get(entry.id);
    // Re-inserted, so the map stays oldest first; a later record of the same key keeps the higher number.
    this.entries.delete(entry.id);
    this.entries.set(entry.id, known && sameKey(known.key, entry.key) ? { ...entry, seq: Math.max(known.seq, entry.seq), until: Math.max(known.until, entry.until) } : entry);
    if (this.entries.size > MAX_DEPARTED) this.entries.delete(this.entries.keys().next().value!);
  }

  /**
   * A socket asks for `id`, which no socket holds: "taken" when the id is still another key's;
   * otherwise the write number its departed client reached (0: none), and the id is its own again.
   */
  claim(id: string, key: string | null): number | "taken" {
    const entry = this.entries.get(id);
    if (!entry || entry.until <= Date.now()) {
      this.entries.delete(id);
      return 0;
    }
    if (!sameKey(entry.key, key)) return "taken";
    this.entries.delete(id);
    return entry.seq;
  }
}

export { DepartedIds };

/**
 * Who may take a connection id at the leader. An id is public, its key is not. While a socket
 * holds an id, only the same key takes it over (a reconnect). Once the id is free anyone may take
 * it, as unsharded (a page reload comes back with a new key), but for ID_GRACE_MS its departed
 * owner may take it back from whoever took it meanwhile: a squatter cannot lock a client out
 * while it reconnects, nor keep receiving what the party sends it. The owner's write numbers go
 * on, so a captured write cannot run after newer ones.
 *
 * The shard that held the client keeps the same record for as long and names it in its hello: a
 * leader woken from hibernation learns it again from every shard still linked. A leader evicted
 * while no shard was linked (the whole room idle) learns a shard's records when that shard links
 * again, with its next client.
 */
import { dropOldest } from "./oldest-first.js";
import { sameKey, type Departed } from "./protocol.js";

/** Departed ids remembered at most; past it the oldest goes first (ids ≤ 128 characters: ~10 MiB at most). */
const MAX_DEPARTED = 20_000;

class DepartedIds {
  private readonly entries = new Map<string, Departed>();

  /**
   * A keyed client's last socket closed (or a shard says so). The first owner keeps its place
   * until its grace ends: whoever took the id meanwhile and left does not replace it.
   */
  remember(entry: Departed) {
    const now = Date.now();
    // Oldest first: the expired ones are (about) the head.
    dropOldest(this.entries, (old) => old.until <= now);
    if (entry.until <= now) return;
    const known = this.entries.get(entry.id);
    if (known && !sameKey(known.key, entry.key)) return;
    // Re-inserted, so the map stays oldest first; a later record of the same key keeps the higher number.
    this.entries.delete(entry.id);
    this.entries.set(entry.id, known ? { ...entry, seq: Math.max(known.seq, entry.seq), until: Math.max(known.until, entry.until) } : entry);
    if (this.entries.size > MAX_DEPARTED) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Whether `key` is the departed owner of `id`, within its grace: it may take the id back. */
  owns(id: string, key: string | null): boolean {
    const entry = this.entries.get(id);
    return entry !== undefined && entry.until > Date.now() && sameKey(entry.key, key);
  }

  /**
   * `key` takes `id`: the write number its departed owner reached if that is `key` (the record
   * goes), else 0 (the record stays until its grace ends, so the owner may still take it back).
   */
  claim(id: string, key: string | null): number {
    if (!this.owns(id, key)) return 0;
    const seq = this.entries.get(id)!.seq;
    this.entries.delete(id);
    return seq;
  }
}

export { DepartedIds };

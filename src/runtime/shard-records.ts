/**
 * What a shard keeps in storage of its clients: who each is (`client:<id>`), what the leader
 * kept of it (`kept:<id>`), and, for ID_GRACE_MS after a keyed client left, that the id is still
 * its own. Storage outlives the shard's memory, so a woken shard still says who is here.
 */
import type { RoomStorage } from "./host.js";
import { ID_GRACE_MS } from "./protocol.js";
import type { ClientRecord, Departed, Kept } from "./protocol.js";

/**
 * A client's record in storage (`client:<id>`). `left`: when its socket closed, and `seq` the
 * write number it reached then. `owner`: the keyed client that left this id within its grace
 * before this one took it, and may take it back.
 */
type StoredClient = Omit<ClientRecord, "kept"> & { left?: number; seq?: number; owner?: Departed };

class Departures {
  /** Departed clients' records, oldest first, until their grace ends (sweep). */
  private readonly departures: { id: string; leftAt: number; until: number }[] = [];

  constructor(private readonly storage: RoomStorage) {}

  /** Whether a departed client's id is still its own (in this shard's memory): a woken leader must hear of it. */
  get within(): boolean {
    return this.departures.length > 0;
  }

  /**
   * A client's socket closed: a keyed client's record stays, marked `left`, with the write
   * number it reached, so it can take its id back for ID_GRACE_MS (as many storage writes as
   * deleting it would take). A socket that took the id from an owner still within its grace
   * leaves the owner's record instead: the owner keeps its place. A keyless one is forgotten.
   * `record` and `kept`: as storage held them when the socket closed.
   */
  async depart(id: string, record: StoredClient | undefined, kept: Kept | undefined) {
    const now = Date.now();
    const owner = record?.owner !== undefined && record.owner.until > now ? record.owner : undefined;
    if (!record || (record.key === null && !owner)) return void (await this.storage.delete(recordKeys([id])));
    const seq = kept?.seq ?? 0;
    const until = owner ? owner.until : now + ID_GRACE_MS;
    const left: StoredClient = { id, uri: record.uri, key: owner ? owner.key : record.key, left: until - ID_GRACE_MS, seq: owner ? owner.seq : seq };
    await this.storage.put(`client:${id}`, left);
    await this.storage.delete(`kept:${id}`);
    this.departures.push({ id, leftAt: left.left!, until });
  }

  /**
   * Departed records past their grace go as later clients come and go (a shard that stays linked
   * sends no hello to sweep them); no timer, which would keep the shard from idling.
   */
  sweep(now: number) {
    while (this.departures[0] && this.departures[0].until <= now) {
      const { id, leftAt } = this.departures.shift()!;
      // Unless the id was taken meanwhile (its record is someone's now).
      void this.storage.get<StoredClient>(`client:${id}`).then(async (record) => {
        if (record?.left === leftAt) await this.storage.delete(recordKeys([id]));
      });
    }
  }
}

/** A room's storage that counts each operation (the load view shows a shard's: what sharding costs in rows). */
function counted(storage: RoomStorage, count: () => void): RoomStorage {
  return {
    get: (key) => (count(), storage.get(key)),
    put: (key, value) => (count(), storage.put(key, value)),
    delete: (keys) => (count(), storage.delete(keys)),
    list: (options) => (count(), storage.list(options)),
  };
}

/** The storage keys of clients' records: who each is (`client:`), and what the leader kept of it (`kept:`). */
function recordKeys(ids: readonly string[]): string[] {
  return ids.flatMap((id) => [`client:${id}`, `kept:${id}`]);
}

export { Departures, counted, recordKeys };
export type { StoredClient };

/**
 * What a shard keeps of its clients: who each is (`client:<id>`) and what the leader kept of it
 * (`kept:<id>`), in the socket's own state (shard-sockets.ts) or, when that does not fit, in
 * storage; and, in storage for ID_GRACE_MS after a keyed client left, that the id is still its
 * own. Both outlive the shard's memory, so a woken shard still says who is here.
 */
import type { RoomStorage } from "./host.js";
import { ID_GRACE_MS } from "./protocol.js";
import type { ClientRecord, Departed, Kept } from "./protocol.js";
import { withSeq } from "./shard-sockets.js";

/**
 * A client's record (`client:<id>`: its socket's state, else storage). `left`: when its socket closed, and `seq` the
 * write number it reached then. `owner`: the keyed client that left this id within its grace
 * before this one took it, and may take it back.
 */
type StoredClient = Omit<ClientRecord, "kept"> & { left?: number; seq?: number; owner?: Departed };

class Departures {
  /** Departed clients' records, oldest first, until their grace ends (sweep). */
  private readonly departures: { id: string; leftAt: number; until: number }[] = [];

  constructor(private readonly storage: RoomStorage) {}

  /**
   * Ids whose record storage may hold, as of the last hello's list, with every record written
   * since and without those deleted (undefined: not listed yet; at most the departed clients of
   * the last ID_GRACE_MS, and the few records too big for a socket's state). A connect reads the
   * id's record only if it may be there: most connects take no storage operation.
   */
  private stored: Set<string> | undefined;
  /** Records written while a list was under way (it may not have seen them). */
  private writtenSince: Set<string> | undefined;

  /** Whether storage may hold a record of `id` (false: it surely does not). */
  mayHold(id: string): boolean {
    return this.stored === undefined || this.stored.has(id);
  }

  /** A record of `id` is written. */
  wrote(id: string) {
    this.stored?.add(id);
    this.writtenSince?.add(id);
  }

  /** Deletes the records of `id` (it is no longer among those storage may hold). */
  async drop(id: string): Promise<void> {
    this.stored?.delete(id);
    await this.storage.delete(recordKeys([id]));
  }

  /** Lists the records in storage (a hello's), and from then on knows which ids have one. */
  async list(): Promise<Map<string, StoredClient>> {
    this.writtenSince = new Set();
    const records = await this.storage.list<StoredClient>({ prefix: "client:" });
    this.stored = new Set(Array.from(records.values(), (record) => record.id).concat(Array.from(this.writtenSince)));
    this.writtenSince = undefined;
    return records;
  }

  /** Whether a departed client's id is still its own (in this shard's memory): a woken leader must hear of it. */
  get within(): boolean {
    return this.departures.length > 0;
  }

  /**
   * A client's socket closed: a keyed client's record stays, marked `left`, with the write
   * number it reached, so it can take its id back for ID_GRACE_MS (as many storage writes as
   * deleting it would take). A socket that took the id from an owner still within its grace
   * leaves the owner's record instead: the owner keeps its place. A keyless one is forgotten.
   * `record` and `kept`: as the socket or storage held them when it closed (`keptStored`: in storage).
   */
  async depart(id: string, record: StoredClient | undefined, kept: Kept | undefined, keptStored = true) {
    const now = Date.now();
    const owner = record?.owner !== undefined && record.owner.until > now ? record.owner : undefined;
    // Forgotten: its records go, if storage may hold any (a keyless client's usually rode in its socket's state).
    if (!record || (record.key === null && !owner)) return keptStored || this.mayHold(id) ? this.drop(id) : undefined;
    const seq = kept?.seq ?? 0;
    const until = owner ? owner.until : now + ID_GRACE_MS;
    const left: StoredClient = { id, uri: record.uri, key: owner ? owner.key : record.key, left: until - ID_GRACE_MS, seq: owner ? owner.seq : seq };
    this.wrote(id);
    await this.storage.put(`client:${id}`, left);
    if (keptStored) await this.storage.delete(`kept:${id}`);
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
        if (record?.left === leftAt) await this.drop(id);
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

/** What a hello says of the clients storage holds, and which of their records to forget. */
function helloRecords(
  stored: Map<string, StoredClient>,
  kept: Map<string, Kept>,
  now: number,
  here: { present: (id: string) => boolean; known: (id: string) => boolean; seq: (id: string) => number },
): { clients: ClientRecord[]; left: Departed[]; gone: string[] } {
  const records = Array.from(stored.values()).filter((record) => record.left === undefined);
  const left: Departed[] = [];
  stored.forEach((record) => {
    if (record.left !== undefined && record.key !== null) left.push({ id: record.id, key: record.key, seq: record.seq ?? 0, until: record.left + ID_GRACE_MS });
    else if (record.owner !== undefined) left.push(record.owner);
  });
  // A record whose socket is gone (the server restarted: hibernated sockets do not survive
  // that) is no client any more: forgotten, never announced; so is a departure past its grace.
  // (An expired claim on a record someone holds now goes with that record, not before it.)
  const expired = Array.from(stored.values()).filter((record) => record.left !== undefined && record.left + ID_GRACE_MS <= now).map((record) => record.id);
  const gone = [...records.filter((record) => !here.present(record.id)).map((record) => record.id), ...expired];
  const clients = records
    .filter((record) => here.present(record.id) && here.known(record.id))
    .map(({ id, socket, uri, key }): ClientRecord => ({ id, ...(socket ? { socket } : {}), uri, key, kept: withSeq(kept.get(`kept:${id}`), here.seq(id)) ?? { state: null, attachment: null, tags: [] } }));
  return { clients, left: left.filter((entry) => entry.until > now), gone };
}

/**
 * Clients whose close the leader has not acknowledged, as they were: a leader woken meanwhile
 * learns of them from the hello, so the close it is sent again runs their onClose.
 */
class ClosingClients {
  /**
   * By close frame number: one id may close more than once before the leader takes those closes
   * (a reconnect that closed at once), and only the first socket is one the leader knew.
   */
  private readonly entries = new Map<number, { id: string; open: number; client?: ClientRecord }>();

  /** A close relayed as frame `seq`, of a client opened as frame `open` (0: in an earlier incarnation, so the leader knew it). */
  add(id: string, seq: number, open: number) {
    const entry: { id: string; open: number; client?: ClientRecord } = { id, open };
    this.entries.set(seq, entry);
    return entry;
  }

  /** The closing client as storage held it (read after its close was relayed). */
  snapshot(entry: { client?: ClientRecord } | undefined, record: StoredClient | undefined, kept: Kept | undefined) {
    if (!entry || !record || record.left !== undefined) return;
    entry.client = { id: record.id, ...(record.socket ? { socket: record.socket } : {}), uri: record.uri, key: record.key, kept: entry.client?.kept ?? kept ?? { state: null, attachment: null, tags: [] } };
  }

  /** What the leader keeps of a closing socket stays with it. */
  keep(id: string, at: string | undefined, change: (kept: Kept) => Kept) {
    this.entries.forEach(({ id: closed, client }) => {
      if (closed === id && client && client.socket === at) client.kept = change(client.kept);
    });
  }

  /** The leader took every frame up to `acked`. */
  taken(acked: number) {
    for (const seq of Array.from(this.entries.keys())) if (seq <= acked) this.entries.delete(seq);
  }

  /** Adds to a hello's `clients` those the leader knew whose close is still to be taken (the close comes after). */
  addTo(clients: ClientRecord[], acked: number) {
    this.entries.forEach(({ open, client }) => {
      if (client && open <= acked && !clients.some((listed) => listed.id === client.id)) clients.push(client);
    });
  }

  clear() {
    this.entries.clear();
  }
}

export { ClosingClients, Departures, counted, helloRecords, recordKeys };
export type { StoredClient };

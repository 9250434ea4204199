/**
 * A shard's client sockets, as the platform lists them: which are the shard's clients, and which
 * socket a leader's frame is for. A socket the shard refused or replaced is marked IGNORED in its
 * state (kept through hibernation): it is closing, and nothing it does counts.
 */
import type { Conn, RoomStorage, ShardHost } from "./host.js";
import type { StoredClient } from "./shard-records.js";
import { decode, sameKey, utf8Length } from "./protocol.js";
import type { Data, Departed, Kept, SendItem } from "./protocol.js";

const IGNORED = { partyShardIgnored: true };
/** WebSocket.OPEN: a connection that can still send and receive. */
const WEBSOCKET_OPEN = 1;
const isIgnored = (conn: Conn) => (conn.state as typeof IGNORED | null)?.partyShardIgnored === true;
/** A new socket until its open is relayed (shard-opens.ts): ignored meanwhile, what it does held. */
const waitingState = (socket: string) => ({ ...IGNORED, partyShardWaiting: socket });
const waitingOf = (conn: Conn) => (conn.state as { partyShardWaiting?: string } | null)?.partyShardWaiting;
/**
 * A client socket's state here (its attachment: kept through hibernation, and no storage
 * operation): its tag, which socket of its id the leader's frames are for; its key; the highest
 * write number the leader took from it; its record (`partyShardUri`, `partyShardOwner`: who it
 * is, for a hello); and what the leader keeps of it, up to STATE_MAX_BYTES in all (else that
 * goes to storage, `partyShardKeptStored`). Sockets accepted before these rode here have none.
 */
type SocketState = {
  partyShardSocket?: string;
  partyShardKey?: string | null;
  partyShardSeq?: number;
  partyShardUri?: string;
  partyShardOwner?: Departed;
  partyShardKept?: Kept;
  partyShardKeptStored?: true;
};
/**
 * A socket's state here at most, in bytes of JSON. The platform keeps 16,384 bytes of attachment
 * (2,048 on the workerd partykit dev runs), shared with the host's own wrapper: past what it
 * takes, setState throws, and what did not fit goes to storage instead (tryState).
 */
const STATE_MAX_BYTES = 12_288;

/** Sets a socket's state if the platform takes it (and it is within STATE_MAX_BYTES); false: it kept the one before. */
function tryState(conn: Conn, state: SocketState): boolean {
  if (utf8Length(JSON.stringify(state)) > STATE_MAX_BYTES) return false;
  try {
    conn.setState(state);
    return true;
  } catch {
    return false; // "A WebSocket 'attachment' cannot be larger than …"
  }
}

/** Sets a new socket's state: its tag, key and record; false: it did not fit (then the caller sets tag and key alone, and stores the record). */
function opened(conn: Conn, record: StoredClient): boolean {
  const state: SocketState = { partyShardSocket: record.socket!, partyShardKey: record.key, partyShardUri: record.uri, ...(record.owner ? { partyShardOwner: record.owner } : {}) };
  return tryState(conn, state);
}

/** The socket's record as its state holds it; undefined: storage holds it (`client:<id>`). */
function recordOf(conn: Conn): StoredClient | undefined {
  const { partyShardSocket: socket, partyShardKey: key, partyShardUri: uri, partyShardOwner: owner } = stateOf(conn);
  return uri === undefined ? undefined : { id: conn.id, ...(socket ? { socket } : {}), uri, key: key ?? null, ...(owner ? { owner } : {}) };
}
const stateOf = (conn: Conn) => (conn.state ?? {}) as SocketState;
const tagOf = (conn: Conn) => stateOf(conn).partyShardSocket;
/** The socket's key; undefined when its state does not say (then storage does). */
const keyOf = (conn: Conn) => ("partyShardKey" in stateOf(conn) ? (stateOf(conn).partyShardKey ?? null) : undefined);

/** The highest write number the leader took from a socket, as its state holds it (0: none). */
const seqOf = (conn: Conn | undefined) => (conn ? (stateOf(conn).partyShardSeq ?? 0) : 0);

/** What the leader kept of a socket (storage), with the write number its state held (`seq`) if that is higher. */
function withSeq(kept: Kept | undefined, seq: number): Kept | undefined {
  return seq > (kept?.seq ?? 0) ? { ...(kept ?? { state: null, attachment: null, tags: [] }), seq } : kept;
}

class ShardSockets {
  constructor(
    private readonly host: ShardHost,
    /** The frame number of each client's open: a broadcast reaches only clients the leader knew then. */
    private readonly openSeq: ReadonlyMap<string, number>,
    /** Whether the leader holds the open numbered so (shard-opens.ts): that client is not the party's yet. */
    private readonly held: (seq: number) => boolean = () => false,
  ) {}

  /**
   * The live socket of a client id here, other than `except`. Only an open one: a socket its
   * client just closed can still be listed, and a reconnect's welcome sent to it would be lost.
   */
  client(id: string, except?: Conn): Conn | undefined {
    for (const conn of this.host.connections(id)) if (conn !== except && conn.id === id && !isIgnored(conn) && conn.readyState === WEBSOCKET_OPEN) return conn;
    return undefined;
  }

  /** Whether a socket of this client id is here, in any state (a closing one still sends its close; a new one, its open). */
  present(id: string): boolean {
    for (const conn of this.host.connections(id)) if (conn.id === id && (!isIgnored(conn) || waitingOf(conn) !== undefined)) return true;
    return false;
  }

  /** The open socket of `conn`'s id here but `conn`, if any, and the id's record: that socket's, else storage's (a departed client's) if it `mayHold` one. */
  async holder(conn: Conn, storage: RoomStorage, mayHold: (id: string) => boolean): Promise<[Conn | undefined, StoredClient | undefined]> {
    const current = this.client(conn.id, conn);
    if (current) return [current, await this.record(current, storage)];
    return [undefined, mayHold(conn.id) ? await storage.get<StoredClient>(`client:${conn.id}`) : undefined];
  }

  /** A socket's record: from its state, else from storage. */
  async record(conn: Conn, storage: RoomStorage): Promise<StoredClient | undefined> {
    return recordOf(conn) ?? (await storage.get<StoredClient>(`client:${conn.id}`));
  }

  /**
   * What the leader keeps of a socket, with the write number its state holds: from its state,
   * else from storage (`stored`: `kept:<id>` is the socket's). Its state is read at once.
   */
  kept(conn: Conn, storage: RoomStorage): { stored: boolean; kept: Promise<Kept | undefined> } {
    const state = stateOf(conn);
    const stored = recordOf(conn) === undefined || state.partyShardKeptStored === true;
    const kept = stored ? storage.get<Kept>(`kept:${conn.id}`) : Promise.resolve(state.partyShardKept);
    return { stored, kept: kept.then((each) => withSeq(each, state.partyShardSeq ?? 0)) };
  }

  /** Keeps what the leader keeps of a socket here (with its write number `seq`): in its state if that fits, else in storage. */
  async keep(id: string, at: string | undefined, kept: Kept | undefined, storage: RoomStorage, seq?: number) {
    const conn = this.addressed(id, at);
    if (!conn) return;
    const { partyShardKept: before, partyShardKeptStored: stored, ...rest } = stateOf(conn);
    if (seq !== undefined) rest.partyShardSeq = seq;
    const next = kept ?? before;
    const ownRecord = recordOf(conn) !== undefined;
    if (ownRecord && !(stored && kept === undefined) && tryState(conn, { ...rest, ...(next ? { partyShardKept: next } : {}) })) {
      if (stored) await storage.delete(`kept:${id}`);
      return;
    }
    conn.setState({ ...rest, ...(ownRecord ? { partyShardKeptStored: true as const } : {}) });
    if (next) await storage.put(`kept:${id}`, next);
  }

  /** Adds to a hello's records those that ride in sockets' states. */
  addStates(records: Map<string, StoredClient>, kept: Map<string, Kept>) {
    for (const conn of this.host.connections()) {
      const record = isIgnored(conn) ? undefined : recordOf(conn);
      if (!record) continue;
      records.set(`client:${conn.id}`, record);
      const inState = stateOf(conn).partyShardKept;
      if (inState) kept.set(`kept:${conn.id}`, inState);
    }
  }

  /** Keeps a write number the leader took from a socket in its state (if that is full, what the leader keeps of it moves to storage). */
  taken(id: string, at: string | undefined, seq: number, storage: RoomStorage) {
    const conn = this.addressed(id, at);
    if (conn && seq > seqOf(conn) && !tryState(conn, { ...stateOf(conn), partyShardSeq: seq })) void this.keep(id, at, undefined, storage, seq);
  }

  /**
   * A writer's check: whether a socket of `id` here is its client's, under `key`. The open
   * socket's state says its key, with no storage operation on a write's path; a socket accepted
   * before keys rode there (or one closing) is looked up in its record.
   */
  async holds(id: string, key: string | null, storage: RoomStorage): Promise<boolean> {
    const live = this.client(id);
    const own = live && keyOf(live);
    if (own !== undefined) return sameKey(own, key);
    const record = this.present(id) ? await storage.get<StoredClient>(`client:${id}`) : undefined;
    return record !== undefined && record.left === undefined && sameKey(record.key, key);
  }

  count(): number {
    return [...this.host.connections()].filter((conn) => !isIgnored(conn)).length;
  }

  /**
   * The live socket a leader's frame is for: the id's socket here and, when the frame names one
   * (`at`), that very socket: what was meant for a socket that closed never reaches the next.
   */
  addressed(id: string, at: string | undefined): Conn | undefined {
    if (at === undefined) return this.client(id);
    // Among every socket of the id: one that closed may still be listed as open for a moment.
    for (const conn of this.host.connections(id)) if (tagOf(conn) === at && !isIgnored(conn) && conn.readyState === WEBSOCKET_OPEN) return conn;
    return undefined;
  }

  /** One message the leader sent to several sockets here, one by one. */
  sendEach({ data, to, at }: SendItem) {
    const message = decode(data);
    to.forEach((id, i) => this.addressed(id, at[i] ?? undefined)?.send(message));
  }

  broadcast({ data, without, upTo }: { data: Data; without: string[]; upTo: number }) {
    const message = decode(data);
    for (const conn of this.host.connections()) {
      const open = this.openSeq.get(conn.id) ?? 0;
      if (open <= upTo && !this.held(open) && !without.includes(conn.id) && !isIgnored(conn)) conn.send(message);
    }
  }
}

export { IGNORED, ShardSockets, isIgnored, opened, recordOf, seqOf, tagOf, waitingOf, waitingState, withSeq };

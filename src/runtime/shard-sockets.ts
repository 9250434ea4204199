/**
 * A shard's client sockets, as the platform lists them: which are the shard's clients, and which
 * socket a leader's frame is for. A socket the shard refused or replaced is marked IGNORED in its
 * state (kept through hibernation): it is closing, and nothing it does counts.
 */
import type { Conn, RoomStorage, ShardHost } from "./host.js";
import type { StoredClient } from "./shard-records.js";
import { decode, sameKey } from "./protocol.js";
import type { Data, Kept, SendItem } from "./protocol.js";

const IGNORED = { partyShardIgnored: true };
/** WebSocket.OPEN: a connection that can still send and receive. */
const WEBSOCKET_OPEN = 1;
const isIgnored = (conn: Conn) => (conn.state as typeof IGNORED | null)?.partyShardIgnored === true;
/** A reconnect's socket waiting for its old one here to close (shard-opens.ts): ignored until its open is relayed, its messages held. */
const waitingState = (socket: string) => ({ ...IGNORED, partyShardWaiting: socket });
const waitingOf = (conn: Conn) => (conn.state as { partyShardWaiting?: string } | null)?.partyShardWaiting;
/**
 * A client socket's state here (its attachment: kept through hibernation, and no storage
 * operation): its tag, which socket of its id the leader's frames are for; its key; and the
 * highest write number the leader took from it. Sockets accepted before keys rode here have none.
 */
type SocketState = { partyShardSocket?: string; partyShardKey?: string | null; partyShardSeq?: number };
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
  ) {}

  /**
   * The live socket of a client id here, other than `except`. Only an open one: a socket its
   * client just closed can still be listed, and a reconnect's welcome sent to it would be lost.
   */
  client(id: string, except?: Conn): Conn | undefined {
    for (const conn of this.host.connections(id)) if (conn !== except && !isIgnored(conn) && conn.readyState === WEBSOCKET_OPEN) return conn;
    return undefined;
  }

  /** Whether a socket of this client id is here, in any state (a closing one still sends its close; a new one, its open). */
  present(id: string): boolean {
    for (const conn of this.host.connections(id)) if (conn.id === id && (!isIgnored(conn) || waitingOf(conn) !== undefined)) return true;
    return false;
  }

  /** Keeps a write number the leader took from a socket in its state. */
  taken(id: string, at: string | undefined, seq: number) {
    const conn = this.addressed(id, at);
    if (conn && seq > seqOf(conn)) conn.setState({ ...stateOf(conn), partyShardSeq: seq });
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
      if ((this.openSeq.get(conn.id) ?? 0) <= upTo && !without.includes(conn.id) && !isIgnored(conn)) conn.send(message);
    }
  }
}

export { IGNORED, ShardSockets, isIgnored, seqOf, tagOf, waitingOf, waitingState, withSeq };

/**
 * The PartyKit host (src/runtime/partykit.ts) in the simulation: the leader is the party wrapped
 * by `sharded()`, made on a fake Party.Room, and each shard's relay gets its room through
 * `shardHost()`, as the generated router gives it. Only the room's platform is fake: which
 * sockets are open, its storage, and the other rooms its context reaches.
 */
import type { Conn, LinkEnd, LinkSocket, RoomStorage, ShardHost } from "../../src/runtime/host.js";
import { partykitRuntime } from "../../src/runtime/partykit.js";
import type { Message } from "../../src/runtime/protocol.js";
import { TestParty, type Observation } from "./party.js";

const NAMES = { party: "main", router: "party-shard-router" };
const runtime = partykitRuntime(NAMES);

/** A room of another party, as a Party.Room's context reaches it: `fetch` (a request) and `socket` (a WebSocket). */
interface Stub {
  fetch(pathOrInit?: unknown, init?: unknown): Promise<Response>;
  socket?(path: string, init?: { headers?: Record<string, string> }): Promise<LinkSocket>;
}
type Parties = Record<string, { get(room: string): Stub }>;

/** The sharded party's handlers as PartyKit calls them (message first; onClose without its code). */
interface PartyKitLeader {
  onStart(): Promise<void>;
  onMessage(message: string | ArrayBuffer, conn: unknown): unknown;
  onClose(conn: unknown): unknown;
  onRequest(req: unknown): Promise<Response>;
}

/** A PartyKit room leading the shards, its party the TestParty. `links`: the links it has accepted, open. */
function partykitLeader(options: {
  storage: RoomStorage;
  links: () => LinkEnd[];
  parties: Parties;
  note: (observation: Observation) => void;
  awaits: boolean;
}): { frame(end: LinkEnd, raw: string | ArrayBuffer): Promise<void>; closed(end: LinkEnd): void; request(req: Request): Promise<Response>; start(): void } {
  // A class party, as apps write them: PartyKit hands it the room (here the runtime's view of it).
  class SimParty {
    readonly options = { hibernate: true };
    private readonly party: TestParty;
    constructor(room: ConstructorParameters<typeof TestParty>[0]) {
      this.party = new TestParty(room, options.note, options.awaits);
    }
    onConnect(conn: Conn, ctx: { request: Request }) {
      return this.party.onConnect(conn, ctx);
    }
    onMessage(message: string | ArrayBuffer, conn: Conn) {
      return this.party.onMessage(conn, message);
    }
    // PartyKit's onClose has no code: the party sees 1005 ("no status"), unsharded too (check.ts).
    onClose(conn: Conn) {
      return this.party.onClose(conn, 1005, "");
    }
  }
  const room = {
    id: "room",
    env: {},
    storage: options.storage,
    context: { parties: options.parties },
    // The leader's room has no direct clients here: its sockets are the shards' links (which have no tags).
    getConnections: (tag?: string) => (tag === undefined ? options.links() : []),
    getConnection: (id: string) => options.links().find((link) => link.id === id),
    broadcast: (_message: Message) => undefined,
  };
  const Leader = runtime.sharded(SimParty) as unknown as new (room: unknown) => PartyKitLeader;
  const leader = new Leader(room);
  return {
    frame: async (end, raw) => void (await leader.onMessage(raw, end)),
    closed: (end) => void leader.onClose(end),
    // A shard's routed writes by request: the runtime answers them before the party's onRequest (it has none).
    request: (req) => leader.onRequest(req),
    // PartyKit runs onStart before the room's first event.
    start: () => void leader.onStart(),
  };
}

/** A shard's room as the router party's room gives it to its relay (router.ts: `shardHost(room)`). */
function partykitShardHost(options: { storage: RoomStorage; connections: (tag?: string) => Conn[]; parties: Parties }): ShardHost {
  const room = { id: "room", storage: options.storage, getConnections: options.connections, context: { parties: options.parties } };
  return runtime.shardHost(room as never);
}

export { partykitLeader, partykitShardHost };
export type { Parties };

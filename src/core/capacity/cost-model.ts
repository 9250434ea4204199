/**
 * What a room costs per month on Durable Objects, sharded or not: requests, duration (GB-s) and
 * SQLite rows written, from the per-event counts `npm run bench:scale` measures and the prices in
 * the platform facts in docs/cost.md. Pure: the bench, docs/cost.md and test/cost-model.test.ts all
 * compute their numbers here.
 *
 *   messages  M = C · r · T                       (T: seconds in a 30-day month)
 *   connects  K = C · k
 *   requests    = M · (q_m + i_m / 20) + K · (q_c + i_c / 20)
 *   GB-s        = A · T · 0.125                   (A: objects never hibernating; 128 MB each)
 *   rows        = M · w_m + K · w_c
 *   $           = requests · 0.15/M + GB-s · 12.50/M + rows · 1.00/M
 *
 * q: requests (HTTP or RPC into an object) per event, i: WebSocket messages an object receives
 * per event (20 count as one request), w: rows written per event; _m per client message, _c per
 * connect. A: the layout's objects awake all month: while the room gets a message at least every
 * IDLE_EVICTION_S, every object on the message path; otherwise the objects that cannot hibernate.
 */

export const PRICES = {
  usdPerMillionRequests: 0.15,
  /** Incoming WebSocket messages billed as one request. */
  wsMessagesPerRequest: 20,
  usdPerMillionGbSeconds: 12.5,
  /** Every object is billed at 128 MB, whatever it uses. */
  gbPerObject: 0.125,
  usdPerMillionRowsWritten: 1.0,
} as const;

export type Prices = { [K in keyof typeof PRICES]: number };

export const SECONDS_PER_MONTH = 30 * 86_400;
/** An object with no event for about this long is evicted (hibernated) if nothing holds it. */
export const IDLE_EVICTION_S = 10;

export interface Room {
  clients: number;
  /** Messages each client sends per second; every one is broadcast to everyone. */
  messagesPerClientPerSecond: number;
  /** Connects each client makes per month (page loads, reconnects, a deploy). */
  connectsPerClientPerMonth: number;
}

export interface PerEvent {
  /** HTTP requests and RPC calls into any Durable Object. */
  requests: number;
  /** WebSocket messages any Durable Object receives (billed 20:1). */
  wsMessagesIn: number;
  rowsWritten: number;
}

export interface Layout {
  label: string;
  perMessage: PerEvent;
  perConnect: PerEvent;
  /** Objects in memory all month though no message comes (one holding an outgoing WebSocket cannot hibernate). */
  awakeWhenIdle: number;
  /** Objects in memory all month while messages keep coming. */
  awakeWhenBusy: number;
}

export interface MonthlyCost {
  requests: number;
  gbSeconds: number;
  rowsWritten: number;
  usd: { requests: number; duration: number; rows: number; total: number };
}

/** The month of `room` laid out as `layout`. */
export function monthlyCost(room: Room, layout: Layout, prices: Prices = PRICES): MonthlyCost {
  const messages = room.clients * room.messagesPerClientPerSecond * SECONDS_PER_MONTH;
  const connects = room.clients * room.connectsPerClientPerMonth;
  const billed = (event: PerEvent) => event.requests + event.wsMessagesIn / prices.wsMessagesPerRequest;
  const requests = messages * billed(layout.perMessage) + connects * billed(layout.perConnect);
  const busy = room.clients * room.messagesPerClientPerSecond * IDLE_EVICTION_S >= 1;
  const gbSeconds = (busy ? layout.awakeWhenBusy : layout.awakeWhenIdle) * SECONDS_PER_MONTH * prices.gbPerObject;
  const rowsWritten = messages * layout.perMessage.rowsWritten + connects * layout.perConnect.rowsWritten;
  const usd = {
    requests: (requests / 1e6) * prices.usdPerMillionRequests,
    duration: (gbSeconds / 1e6) * prices.usdPerMillionGbSeconds,
    rows: (rowsWritten / 1e6) * prices.usdPerMillionRowsWritten,
  };
  return { requests, gbSeconds, rowsWritten, usd: { ...usd, total: usd.requests + usd.duration + usd.rows } };
}

/** One room, clients straight to it: a message is one incoming WebSocket message, a connect one request. */
export function unshardedLayout(): Layout {
  return {
    label: "unsharded",
    perMessage: { requests: 0, wsMessagesIn: 1, rowsWritten: 0 },
    perConnect: { requests: 1, wsMessagesIn: 0, rowsWritten: 0 },
    awakeWhenIdle: 0,
    awakeWhenBusy: 1,
  };
}

/** What a bench run measured on the sharded room; a count the runtime does not report yet is undefined. */
export interface ShardedCounts {
  shards: number;
  /** Write POSTs the clients sent per client message (sendViaRouter sends a socket's waiting writes together). */
  postsPerWrite: number;
  /** How clients write: routed (POST, what migrate makes; the default) or on their socket (`--writes socket`). */
  writesVia?: "POST" | "socket";
  /** Requests the router made of the writers' shards per write POST (key checks and the writes: the shards' `writeRequests`); unmeasured: 2. */
  shardRequestsPerPost?: number;
  /** Events the leader handled per client message: its requests and link frames. */
  leaderEventsPerWrite?: number;
  linkFramesInPerWrite?: number;
  /** Frames the leader sent its shards per client message. */
  linkFramesOutPerWrite?: number;
  storageOpsPerWrite?: number;
  linkFramesInPerConnect?: number;
  linkFramesOutPerConnect?: number;
  storageOpsPerConnect?: number;
  /** Objects (shards and leader) still in memory after the room sat idle, as measured on wrangler dev; unmeasured: every shard. */
  awakeWhenIdle?: number;
}

/**
 * The sharded room, with routed writes (what `migrate` makes) or socket writes (`--writes
 * socket`). From the code (src/runtime/edge.ts, shard-writes.ts, edge-placement.ts, shard-load.ts):
 * a write POST costs its requests at the writers' shards, as measured (`writeRequests`: the key
 * check, then the write, which the shard sends the leader on its link with its other frames; a
 * write whose client does not know its shard yet is checked at each shard in use; unmeasured,
 * two) and the leader's requests for
 * it (its events but its link messages in, which are billed as messages; by request only when
 * the link cannot take a write); a
 * connect at most four, the upgrade at the shard, the ticket the router asks the shard for first
 * (PartyServer; tickets.ts), the shard's load report and the edge's refresh of the room's counts. The safe side where the counts cannot tell: every leader event
 * of a routed write not measured as a link message in is billed as a request, link frames both ways as incoming messages (the
 * shard's end is an outgoing socket), storage operations as rows written (reads included). A
 * link or storage count not measured is taken as 0; docs/cost.md says which were.
 */
export function shardedLayout(counts: ShardedCounts): Layout {
  const frames = (counts.linkFramesInPerWrite ?? 0) + (counts.linkFramesOutPerWrite ?? 0);
  // On its socket, a message is one incoming message at its shard, which relays it over its link:
  // the leader's events are then its link frames in, already counted as messages.
  const perMessage: PerEvent =
    counts.writesVia === "socket"
      ? { requests: 0, wsMessagesIn: 1 + frames, rowsWritten: counts.storageOpsPerWrite ?? 0 }
      : { requests: (counts.shardRequestsPerPost ?? 2) * counts.postsPerWrite + Math.max(0, (counts.leaderEventsPerWrite ?? counts.postsPerWrite) - (counts.linkFramesInPerWrite ?? 0)), wsMessagesIn: frames, rowsWritten: counts.storageOpsPerWrite ?? 0 };
  return {
    label: `sharded, ${counts.shards} shards${counts.writesVia === "socket" ? ", socket writes" : ""}`,
    perMessage,
    perConnect: {
      requests: 4,
      wsMessagesIn: (counts.linkFramesInPerConnect ?? 0) + (counts.linkFramesOutPerConnect ?? 0),
      rowsWritten: counts.storageOpsPerConnect ?? 0,
    },
    // Unmeasured, the safe side: each shard keeps its link to the leader (an outgoing WebSocket).
    awakeWhenIdle: counts.awakeWhenIdle ?? counts.shards,
    awakeWhenBusy: counts.shards + 1,
  };
}

/** The rooms docs/cost.md prices: 10,000 clients idle, and sending 1 message a second each; each connects once a day. */
export const DOC_ROOMS: { label: string; room: Room }[] = [
  { label: "10,000 idle", room: { clients: 10_000, messagesPerClientPerSecond: 0, connectsPerClientPerMonth: 30 } },
  { label: "10,000 at 1 msg/s", room: { clients: 10_000, messagesPerClientPerSecond: 1, connectsPerClientPerMonth: 30 } },
];

/** A markdown table of each layout's month for each room. */
export function costTable(rooms: { label: string; room: Room }[], layouts: Layout[], prices: Prices = PRICES): string {
  const header = "| room | layout | requests | GB-s | rows written | $ requests | $ duration | $ rows | $ total |";
  const rule = "|------|--------|---------:|-----:|-------------:|-----------:|-----------:|-------:|--------:|";
  const lines = rooms.flatMap(({ label, room }) =>
    layouts.map((layout) => {
      const cost = monthlyCost(room, layout, prices);
      const cells = [label, layout.label, count(cost.requests), count(cost.gbSeconds), count(cost.rowsWritten), usd(cost.usd.requests), usd(cost.usd.duration), usd(cost.usd.rows), usd(cost.usd.total)];
      return `| ${cells.join(" | ")} |`;
    }),
  );
  return [header, rule, ...lines].join("\n");
}

const count = (n: number) => (n === 0 ? "0" : n >= 1e8 ? `${(n / 1e6).toLocaleString("en-US", { maximumFractionDigits: 1 })} M` : Math.round(n).toLocaleString("en-US"));
const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/**
 * What a room needs, before it ships: `party-shard plan`'s arithmetic. Pure, from the limits and
 * measured counts in measured.ts and the month in cost-model.ts; docs/plan.md works one example
 * by hand, and test/capacity.test.ts checks this against it.
 *
 * With S shards, R = C·r messages a second in the room and each delivered to n clients:
 *   sockets a shard          C / S                     ≤ socketsPerShard
 *   events a shard           C·r / S + R·φ             ≤ eventsPerSecond   (its clients' messages, or their
 *                                                                           writes' key checks; φ: the leader's
 *                                                                           frames a shard gets per message)
 *   deliveries a shard       R·n / S                   ≤ DELIVERIES_PER_SECOND
 *   events at the leader     R·e                       ≤ eventsPerSecond   (e: its events per message;
 *                                                                           no shard count changes it)
 * Unsharded, one object: C sockets (≤ socketsPerObject), R events, R·n deliveries.
 */
import { LIMITS, MEASURED, DELIVERIES_PER_SECOND, ADDED_LATENCY_MS, CONNECTS_PER_CLIENT_PER_MONTH } from "./measured.js";
import { monthlyCost, shardedLayout, unshardedLayout, type MonthlyCost } from "./cost-model.js";

export type Fanout = "everyone" | "sender" | number;
export type WritesVia = "routed" | "socket";

export interface PlanInput {
  connections: number;
  /** Messages each client sends a second. */
  messagesPerClientPerSecond: number;
  /** Who gets each message: every client, its sender alone, or this many clients. */
  fanout: Fanout;
  messageBytes: number;
  writes: WritesVia;
}

/** One limit, for one object: what the room puts on it, and how many shards keep it under. */
export interface LimitCheck {
  limit: "sockets" | "events" | "deliveries" | "leader events";
  /** Per second (sockets: held), on the busiest object of its kind. */
  load: number;
  max: number;
  /** Shards this limit alone needs: Infinity when no shard count keeps it under. */
  shardsNeeded: number;
}

export interface RoomPlan {
  input: PlanInput;
  roomMessagesPerSecond: number;
  /** Messages each client receives a second. */
  receivedPerClientPerSecond: number;
  unsharded: { checks: LimitCheck[]; fits: boolean };
  /** `shards` of at most `target` clients each; `binding` is the limit that decided the count (or that no count meets). */
  sharded: { shards: number; target: number; checks: LimitCheck[]; fits: boolean; binding: LimitCheck };
  cost: { unsharded: MonthlyCost; sharded: MonthlyCost };
  addedLatencyMs: number;
  warnings: string[];
}

/**
 * The Workers Free plan allows 50 subrequests an invocation: a broadcast after the room slept
 * wakes each shard that holds clients (one request each, from one leader invocation), and a
 * routed write from a client the edge has not placed may ask every shard, then send it to its own.
 */
export function subrequestWarning(shards: number, writes: WritesVia): string | undefined {
  const most = writes === "routed" ? shards + 1 : shards;
  if (most <= LIMITS.freePlanSubrequests) return undefined;
  const what = writes === "routed" ? "a routed write may ask every shard whether it holds the writer, then send it to its own" : "a broadcast after the room slept wakes every shard";
  return `${shards} shards: ${what} (${most} subrequests in one invocation), past the Workers Free plan's ${LIMITS.freePlanSubrequests}; the paid plan allows 10,000`;
}

/** How many clients get each message. */
export function recipients(fanout: Fanout, connections: number): number {
  if (fanout === "everyone") return connections;
  if (fanout === "sender") return 1;
  return Math.min(fanout, connections);
}

export function planRoom(input: PlanInput): RoomPlan {
  const { connections: C, messagesPerClientPerSecond: r } = input;
  const R = C * r;
  const n = recipients(input.fanout, C);
  const counts = MEASURED[input.writes];
  const phi = (counts.linkFramesOutPerWrite ?? 0) / counts.shards;
  const leaderPerMessage = counts.leaderEventsPerWrite ?? 0;
  const { eventsPerSecond: E, socketsPerShard, socketsPerObject } = LIMITS;

  const unshardedChecks: LimitCheck[] = [
    { limit: "sockets", load: C, max: socketsPerObject, shardsNeeded: 1 },
    { limit: "events", load: R, max: E, shardsNeeded: 1 },
    { limit: "deliveries", load: R * n, max: DELIVERIES_PER_SECOND, shardsNeeded: 1 },
  ];
  const needs = {
    sockets: Math.ceil(C / socketsPerShard),
    events: R * phi >= E ? Infinity : Math.ceil((C * r) / (E - R * phi)),
    deliveries: Math.ceil((R * n) / DELIVERIES_PER_SECOND),
    leader: R * leaderPerMessage > E ? Infinity : 1,
  };
  const wanted = Math.max(1, needs.sockets, needs.events, needs.deliveries);
  const S = Math.min(LIMITS.maxShards, Number.isFinite(wanted) ? wanted : LIMITS.maxShards);
  const shardedChecks: LimitCheck[] = [
    { limit: "sockets", load: Math.ceil(C / S), max: socketsPerShard, shardsNeeded: needs.sockets },
    { limit: "events", load: (C * r) / S + R * phi, max: E, shardsNeeded: needs.events },
    { limit: "deliveries", load: (R * n) / S, max: DELIVERIES_PER_SECOND, shardsNeeded: needs.deliveries },
    { limit: "leader events", load: R * leaderPerMessage, max: E, shardsNeeded: needs.leader },
  ];
  // The leader first: past it, no shard count helps, whatever else binds.
  const binding = shardedChecks.find((check) => check.limit === "leader events" && check.load > check.max) ?? shardedChecks.reduce((a, b) => (b.shardsNeeded > a.shardsNeeded ? b : a));
  const fits = (checks: LimitCheck[]) => checks.every((check) => check.load <= check.max);

  const room = { clients: C, messagesPerClientPerSecond: r, connectsPerClientPerMonth: CONNECTS_PER_CLIENT_PER_MONTH };
  const warnings: string[] = [];
  const subrequests = subrequestWarning(S, input.writes);
  if (subrequests) warnings.push(subrequests);
  if (input.messageBytes > 1_048_576 && input.writes === "routed") warnings.push(`a routed write's body is at most 1 MiB; ${input.messageBytes} bytes would be refused (413): write on the socket (--writes socket)`);
  if (R / Math.max(1, C) * n > 1_000) warnings.push(`each client would receive ${Math.round((R * n) / C).toLocaleString("en-US")} messages a second: more than a browser or phone keeps up with`);
  return {
    input,
    roomMessagesPerSecond: R,
    receivedPerClientPerSecond: C === 0 ? 0 : (R * n) / C,
    unsharded: { checks: unshardedChecks, fits: fits(unshardedChecks) },
    sharded: { shards: S, target: Math.max(1, Math.ceil(C / S)), checks: shardedChecks, fits: fits(shardedChecks), binding },
    cost: { unsharded: monthlyCost(room, unshardedLayout()), sharded: monthlyCost(room, shardedLayout({ ...counts, shards: S })) },
    addedLatencyMs: ADDED_LATENCY_MS.p50,
    warnings,
  };
}

/**
 * What `party-shard plan` computes from: the platform's limits, and the per-event counts the
 * benchmarks measured. Numbers only, each with where it comes from; test/capacity.test.ts checks
 * the measured ones against the benchmark output in docs/cost.md and docs/benchmarks.md, so the
 * two cannot drift apart unseen. A new bench run updates docs and this file together.
 */
import type { ShardedCounts } from "./cost-model.js";

/** Per object, what plan keeps under. */
export const LIMITS = {
  /** Events (requests and incoming WebSocket messages) one object runs a second: the low end of the 500–750/s Cloudflare gives with JSON parsing (its soft limit is ~1,000/s). */
  eventsPerSecond: 500,
  /** WebSockets one object may hold with hibernation. */
  socketsPerObject: 32_768,
  /** Sockets the runtime lets one shard hold (MAX_CONNECTIONS_PER_SHARD in src/runtime/shard-choice.ts). */
  socketsPerShard: 10_000,
  /** Subrequests one invocation may make on the Workers Free plan (paid: 10,000). */
  freePlanSubrequests: 50,
  /** The most shards init makes (MAX_SHARDS in src/commands/flags.ts). */
  maxShards: 256,
} as const;

/** Where the measured counts come from. */
export const MEASURED_RUN = "npm run bench:scale on wrangler dev: 1,000 clients, 20 writers × 5 broadcasts to everyone, 4 shards (docs/cost.md)";

/** Counts per client write and per connect, routed writes (sendViaRouter, migrate's default) and socket writes (`--writes socket`), as bench:scale printed them. */
export const MEASURED: Record<"routed" | "socket", ShardedCounts> = {
  routed: {
    shards: 4,
    // Measured 0.40 in the bench's bursts of 5; a client writing once a second sends each alone.
    postsPerWrite: 1,
    writesVia: "POST",
    // A write that names its shard streams there, the key checked as the shard takes it: one request.
    shardRequestsPerPost: 1,
    leaderEventsPerWrite: 0.12,
    linkFramesInPerWrite: 0.11,
    linkFramesOutPerWrite: 1.12,
    storageOpsPerWrite: 0,
    linkFramesInPerConnect: 0.05,
    linkFramesOutPerConnect: 1.01,
    storageOpsPerConnect: 0.03,
    awakeWhenIdle: 0,
  },
  socket: {
    shards: 4,
    postsPerWrite: 0,
    writesVia: "socket",
    leaderEventsPerWrite: 0.09,
    linkFramesInPerWrite: 0.08,
    linkFramesOutPerWrite: 0.08,
    storageOpsPerWrite: 0,
    linkFramesInPerConnect: 0.07,
    linkFramesOutPerConnect: 1.01,
    storageOpsPerConnect: 0.02,
    awakeWhenIdle: 0,
  },
};

/**
 * Frames one object sent its sockets a second: the unsharded room of the same run delivered 100
 * broadcasts to 999 clients each in 1.02 s (docs/benchmarks.md, wrangler dev, direct), on 2 cores
 * shared with the 1,000 clients. The platform states no limit for outgoing messages; this is
 * what one object was seen to do, a floor rather than a ceiling.
 */
export const DELIVERIES_PER_SECOND = Math.round((100 * 999) / 1.02);

/** A message's extra time through the shards: p50 of bench:router's 5 shards (6.9 ms) less a direct broadcast (4.5 ms), partykit dev (docs/benchmarks.md). */
export const ADDED_LATENCY_MS = { p50: 2.4, source: "bench:router, partykit dev, 40 clients: 6.9 ms sharded against 4.5 ms direct (p50)" } as const;

/** Connects a client makes a month, as docs/cost.md prices them: once a day. */
export const CONNECTS_PER_CLIENT_PER_MONTH = 30;

/** The shard count init starts from when neither --shards nor an existing router or runtime says one. */
export const DEFAULT_SHARDS = 4;
/**
 * The clients a shard takes before a room opens its next, when neither --shard-target nor an
 * existing router says one: half of the ~1,000 events a second one object runs, at one message a
 * second a client. `party-shard plan` works out the one an app's traffic needs.
 */
export const DEFAULT_SHARD_TARGET = 500;
/** A shard never takes more sockets than this (the runtime's MAX_CONNECTIONS_PER_SHARD). */
export const MAX_SHARD_TARGET = 10_000;

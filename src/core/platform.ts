/**
 * The platforms party-shard shards rooms on. A module of its own, with no imports, so that the
 * CLI's flag parsing can name them without loading the config readers.
 */
export const PLATFORMS = ["partykit", "partyserver"] as const;
export type Platform = (typeof PLATFORMS)[number];

/** The shard count init starts from when neither --shards nor an existing router or runtime says one. */
export const DEFAULT_SHARDS = 4;

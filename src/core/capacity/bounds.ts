/** What `party-shard plan` accepts, on the command line or in party-shard.plan.json. */
export const PLAN_BOUNDS = { connections: 100_000_000, messagesPerClientPerSecond: 1_000, messageBytes: 33_554_432 } as const;

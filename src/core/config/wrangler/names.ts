/** The router's Durable Object binding and class on PartyServer; clients reach it at /parties/party-shard-router/. */
export const ROUTER_BINDING = "PartyShardRouter";

/**
 * The URL name of a binding, as partyserver's routePartykitRequest derives it (its
 * camelCaseToKebabCase): `Chat` → `chat`, `ShardLeader` → `shard-leader`, `MY_ROOM` → `my-room`.
 */
export function kebab(binding: string): string {
  if (binding === binding.toUpperCase() && binding !== binding.toLowerCase()) return binding.toLowerCase().replaceAll("_", "-");
  const dashed = binding.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
  return (dashed.startsWith("-") ? dashed.slice(1) : dashed).replaceAll("_", "-").replace(/-$/, "");
}

import type { LeaderHost, LinkEnd } from "../../src/runtime/host.js";

/** A leader's room with no direct clients, whose links are `links` (read at each call: a test may add or drop some). */
export function leaderHostWith(links: LinkEnd[], id = "lobby"): LeaderHost {
  return {
    id,
    env: {},
    hibernates: false,
    directConnections: () => [],
    directConnection: () => undefined,
    links: () => links,
    link: (linkId) => links.find((link) => link.id === linkId),
    routerRoom: () => async () => new Response("{}"),
  };
}

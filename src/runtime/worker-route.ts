/**
 * How a PartyServer Worker reaches the router: which URLs are the router's (`routerPath`, read
 * as routePartykitRequest reads a party's URL, with the same `prefix`), and hono-party's
 * `partyserverMiddleware` with the router in front (`withRouter`).
 *
 * The middleware answers only the router's URLs, as hono-party answers a party's: the same
 * `{ options, onError }`, the hooks given the Hono context as their third argument (hono-party 2
 * does; 0.0.x passes two, which a hook of that version ignores the third of), a socket the hooks
 * refused and an error `onError` took falling through to the app's next handler. Every other
 * request goes to the app's own partyserverMiddleware, untouched, whichever version it pins.
 * It reads a Hono context's `req.raw` and `env` only, so the runtime needs no hono.
 */
import type { Lobby, PartyServerOptions } from "partyserver";

/** The router's URL name: the kebab case of its binding, PartyShardRouter. */
const ROUTER_PARTY = "party-shard-router";

/**
 * The router's room and the path as the runtime reads it (`/parties/party-shard-router/<room>/…`,
 * whatever the prefix) when `pathname` is `/<prefix>/party-shard-router/<room>…`; else undefined.
 */
function routerPath(pathname: string, prefix: string | undefined): { room: string; pathname: string } | undefined {
  const head = (prefix || "parties").split("/");
  const parts = pathname.split("/").filter(Boolean);
  const room = parts[head.length + 1];
  if (!head.every((part, i) => parts[i] === part) || parts[head.length] !== ROUTER_PARTY || room === undefined) return undefined;
  return { room, pathname: ["", "parties", ...parts.slice(head.length)].join("/") };
}

/** The little of a Hono context used here. */
interface HonoContext {
  req: { raw: Request };
  env: unknown;
}
type HonoMiddleware = (c: HonoContext, next: () => Promise<void>) => Promise<Response | void>;
type HonoHook = (req: Request, lobby: Lobby, c: HonoContext) => Response | Request | void | Promise<Response | Request | undefined | void>;
/** What hono-party's `partyserverMiddleware(ctx)` takes. */
interface HonoPartyContext {
  options?: Omit<PartyServerOptions, "onBeforeConnect" | "onBeforeRequest"> & { onBeforeConnect?: HonoHook; onBeforeRequest?: HonoHook };
  onError?: (error: Error) => void;
}
/** routePartyShard: answers the router's URLs. */
type Route = (request: Request, env: Cloudflare.Env, options?: PartyServerOptions) => Promise<Response | null>;

/**
 * `partyserverMiddleware` (hono-party's factory) with the router's URLs sent to `route` first:
 * a factory of the same type, taking the same `{ options, onError }`.
 */
function withRouter<Factory extends (ctx?: never) => unknown>(partyserverMiddleware: Factory, route: Route): Factory {
  const sharded = (ctx?: HonoPartyContext): HonoMiddleware => {
    const party = (partyserverMiddleware as unknown as (ctx?: HonoPartyContext) => HonoMiddleware)(ctx);
    return async (c, next) => {
      const options = ctx?.options;
      if (!routerPath(new URL(c.req.raw.url).pathname, options?.prefix)) return party(c, next);
      try {
        const response = await route(c.req.raw.clone(), c.env as Cloudflare.Env, options && withContext(options, c));
        const upgrade = c.req.raw.headers.get("upgrade")?.toLowerCase() === "websocket";
        if (response === null || (upgrade && !response.webSocket)) return next();
        return response;
      } catch (error) {
        if (!ctx?.onError) throw error;
        ctx.onError(error as Error);
        return next();
      }
    };
  };
  return sharded as unknown as Factory;
}

/** PartyServer's options, each hook given the Hono context too, as hono-party gives it. */
function withContext(options: NonNullable<HonoPartyContext["options"]>, c: HonoContext): PartyServerOptions {
  const { onBeforeConnect, onBeforeRequest, ...rest } = options;
  return {
    ...rest,
    ...(onBeforeConnect && { onBeforeConnect: (req: Request, lobby: Lobby) => onBeforeConnect(req, lobby, c) }),
    ...(onBeforeRequest && { onBeforeRequest: (req: Request, lobby: Lobby) => onBeforeRequest(req, lobby, c) }),
  };
}

export { ROUTER_PARTY, routerPath, withRouter };

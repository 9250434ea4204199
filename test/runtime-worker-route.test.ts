import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Hono, type MiddlewareHandler } from "hono";
import type { PartyServerOptions } from "partyserver";
import { routerPath, withRouter } from "../src/runtime/worker-route.js";

/**
 * withRouter in a real Hono app, in process. hono-party itself imports partyserver, which needs
 * workerd: its stand-in here answers what it is given with "party" (or passes it on), which is
 * all withRouter may rely on. The route records what routePartyShard would have been given.
 */
function app(ctx?: Parameters<typeof partyserverMiddleware>[0], answer: (request: Request, options?: PartyServerOptions) => Promise<Response | null> = async () => new Response("router")) {
  const routed: { request: Request; env: unknown; options?: PartyServerOptions }[] = [];
  const route = async (request: Request, env: unknown, options?: PartyServerOptions) => {
    routed.push({ request, env, options });
    return answer(request, options);
  };
  const hono = new Hono<{ Bindings: { TOKEN: string } }>();
  hono.use("*", withRouter(partyserverMiddleware, route)(ctx));
  hono.get("*", (c) => c.text("the app's own route", 404));
  hono.onError((error, c) => c.text(`the app's error: ${error.message}`, 500));
  return { hono, routed };
}

const partyMiddlewareCalls: string[] = [];
/** hono-party's factory, as far as withRouter sees it: `{ options, onError }` in, a middleware out. */
function partyserverMiddleware(ctx?: { options?: Record<string, unknown> & { prefix?: string; onBeforeConnect?: (...args: any[]) => unknown }; onError?: (error: Error) => void }): MiddlewareHandler {
  return async (c, next) => {
    partyMiddlewareCalls.push(new URL(c.req.url).pathname);
    if (new URL(c.req.url).pathname.startsWith(`/${ctx?.options?.prefix ?? "parties"}/chat/`)) return c.text("party");
    await next();
  };
}

const env = { TOKEN: "t0ken" };
const upgrade = { headers: { upgrade: "websocket" } };

describe("withRouter: hono-party's middleware with the router in front", () => {
  it("answers the router's URLs with routePartyShard, the request, env and options as hono-party passes them", async () => {
    const { hono, routed } = app();
    const answer = await hono.request("/parties/party-shard-router/lobby?_pk=a", { method: "POST", body: "hi" }, env);
    assert.equal(await answer.text(), "router");
    assert.equal(routed.length, 1);
    assert.equal(routed[0]!.request.url, "http://localhost/parties/party-shard-router/lobby?_pk=a");
    assert.equal(await routed[0]!.request.text(), "hi");
    assert.deepEqual(routed[0]!.env, env);
    assert.equal(routed[0]!.options, undefined);
  });

  it("hands every other request to the app's own middleware, untouched", async () => {
    const { hono, routed } = app();
    partyMiddlewareCalls.length = 0;
    assert.equal(await (await hono.request("/parties/chat/lobby", {}, env)).text(), "party");
    assert.equal((await hono.request("/about", {}, env)).status, 404);
    // No room: not the router's URL, as routePartykitRequest reads it.
    await hono.request("/parties/party-shard-router/", {}, env);
    assert.deepEqual(partyMiddlewareCalls, ["/parties/chat/lobby", "/about", "/parties/party-shard-router/"]);
    assert.equal(routed.length, 0);
  });

  it("reads the router's URLs under the options' prefix, and gives the hooks the Hono context", async () => {
    const seen: unknown[] = [];
    const options = { prefix: "ws/rooms", onBeforeConnect: (req: Request, lobby: unknown, c: { env: { TOKEN: string } }) => void seen.push(req.url, lobby, c.env.TOKEN) };
    const { hono, routed } = app({ options }, async (request, given) => {
      await given?.onBeforeConnect?.(request, { className: "Chat", party: "chat", name: "lobby" });
      return new Response("router");
    });
    assert.equal(await (await hono.request("/ws/rooms/party-shard-router/lobby", upgrade, env)).text(), "the app's own route", "a refused or plain answer to an upgrade falls through");
    assert.deepEqual(seen, ["http://localhost/ws/rooms/party-shard-router/lobby", { className: "Chat", party: "chat", name: "lobby" }, "t0ken"]);
    assert.equal(routed[0]!.options?.prefix, "ws/rooms");
    assert.equal((await hono.request("/parties/party-shard-router/lobby", {}, env)).status, 404, "the default prefix is not the router's here");
    assert.equal(routed.length, 1);
  });

  it("returns a non-upgrade answer as it is, a refused one too, as hono-party does", async () => {
    const { hono } = app({}, async () => new Response("forbidden", { status: 403 }));
    const answer = await hono.request("/parties/party-shard-router/lobby", { method: "POST" }, env);
    assert.equal(answer.status, 403);
    assert.equal(await answer.text(), "forbidden");
  });

  it("gives a throw to onError and goes on to the next handler; without onError it is the app's error", async () => {
    const errors: string[] = [];
    const failing = async () => {
      throw new Error("no room");
    };
    const caught = app({ onError: (error) => errors.push(error.message) }, failing);
    assert.equal(await (await caught.hono.request("/parties/party-shard-router/lobby", {}, env)).text(), "the app's own route");
    assert.deepEqual(errors, ["no room"]);
    const thrown = app({}, failing);
    assert.equal(await (await thrown.hono.request("/parties/party-shard-router/lobby", {}, env)).text(), "the app's error: no room");
  });
});

describe("routerPath", () => {
  it("reads /<prefix>/party-shard-router/<room>… as the runtime's /parties/ path", () => {
    assert.deepEqual(routerPath("/parties/party-shard-router/lobby", undefined), { room: "lobby", pathname: "/parties/party-shard-router/lobby" });
    assert.deepEqual(routerPath("/api/ws/party-shard-router/r1/x", "api/ws"), { room: "r1", pathname: "/parties/party-shard-router/r1/x" });
    assert.equal(routerPath("/parties/chat/lobby", undefined), undefined);
    assert.equal(routerPath("/parties/party-shard-router", undefined), undefined);
    assert.equal(routerPath("/ws/party-shard-router/lobby", undefined), undefined);
  });
});

import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { edgeRequest } from "../src/runtime/edge.js";
import type { Edge } from "../src/runtime/host.js";

/** An edge whose leader is the party: `answer` is its onRequest, each run recorded. */
function edgeWith(answer: (req: Request) => Promise<Response>, viewToken?: string) {
  const runs: Request[] = [];
  const edge: Edge = {
    room: "lobby",
    leader: (path, init) => {
      const req = new Request(`http://party/parties/main/lobby${path}`, init);
      runs.push(req);
      return answer(req);
    },
    routerRoom: () => () => Promise.reject(new Error("no router room here")),
    toShard: () => Promise.reject(new Error("no shard here")),
    hook: async (_kind, req) => req,
    viewToken,
  };
  return { edge, runs };
}

const post = (body = "side effect") => new Request("http://host/parties/router/lobby/orders", { method: "POST", body });

async function respond(pending: Promise<Request | Response>): Promise<Response> {
  const answer = await pending;
  assert.ok(answer instanceof Response, "the edge answers a POST itself");
  return answer;
}

describe("the router's edge sends a room request to the party once, as a direct request runs once", () => {
  it("a slow onRequest (longer than a write's attempt timeout) runs once, and its answer comes back", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const { edge, runs } = edgeWith(() => new Promise((resolve) => setTimeout(() => resolve(new Response("done")), 15_000)));
      const answer = respond(edgeRequest(post(), edge));
      for (let ms = 0; ms < 40_000; ms += 500) {
        mock.timers.tick(500);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const res = await answer;
      assert.equal(await res.text(), "done");
      assert.equal(runs.length, 1, `onRequest ran ${runs.length} times`);
    } finally {
      mock.timers.reset();
    }
  });

  for (const status of [502, 504]) {
    it(`the party's own ${status} (its upstream failed, maybe after its side effects) comes back after one run`, async () => {
      const { edge, runs } = edgeWith(async () => new Response("upstream", { status }));
      const res = await respond(edgeRequest(post(), edge));
      assert.equal(res.status, status);
      assert.equal(runs.length, 1);
    });
  }

  it("the room's 503 (nothing ran) is sent again with the same Idempotency-Key", async () => {
    const { edge, runs } = edgeWith(async () => new Response("busy", { status: runs.length < 2 ? 503 : 200 }));
    const res = await respond(edgeRequest(post(), edge));
    assert.equal(res.status, 200);
    assert.equal(runs.length, 2);
    assert.equal(new Set(runs.map((req) => req.headers.get("idempotency-key"))).size, 1);
  });
});

describe("CORS preflights through the router", () => {
  const preflight = (asked: string) =>
    new Request("http://host/parties/router/lobby", { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": asked } });

  it("a preflight for a room request is the party's to answer (a bearer token it allows)", async () => {
    const { edge, runs } = edgeWith(async (req) =>
      req.method === "OPTIONS" ? new Response(null, { status: 204, headers: { "access-control-allow-origin": "https://app.example", "access-control-allow-headers": "authorization, content-type" } }) : new Response("no"),
    );
    const res = await respond(edgeRequest(preflight("authorization, content-type"), edge));
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("access-control-allow-headers"), "authorization, content-type");
    assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example");
    assert.deepEqual(runs.map((req) => req.method), ["OPTIONS"]);
  });

  it("a preflight for a write (it asks for the connection header) is answered by the router", async () => {
    const { edge, runs } = edgeWith(async () => new Response("the party is not asked"));
    const res = await respond(edgeRequest(preflight("content-type, idempotency-key, x-party-shard-connection, x-party-shard-key, x-party-shard-seq"), edge));
    assert.equal(res.status, 204);
    assert.match(res.headers.get("access-control-allow-headers") ?? "", /x-party-shard-connection/);
    assert.equal(runs.length, 0);
  });
});

describe("the router's load view is the operator's: only with the deploy's PARTY_SHARD_VIEW_TOKEN", () => {
  const TOKEN = "view-token-0123456789";
  const get = (headers: Record<string, string> = {}, method = "GET") => new Request("http://host/parties/router/lobby", { method, headers });
  const roomAnswer = async (req: Request) => new Response(`the room's own ${req.method}`);

  for (const [what, token, headers] of [
    ["no token header", TOKEN, {}],
    ["a wrong token", TOKEN, { "x-party-shard-view-token": "view-token-0123456780" }],
    ["a token that is a prefix of the right one", TOKEN, { "x-party-shard-view-token": TOKEN.slice(0, -1) }],
    ["a token while the deploy has none", undefined, { "x-party-shard-view-token": "" }],
    ["any token while the deploy has none", undefined, { "x-party-shard-view-token": "anything" }],
  ] as const) {
    it(`a GET with ${what} is the room's own GET, without our header`, async () => {
      const { edge, runs } = edgeWith(roomAnswer, token);
      const res = await respond(edgeRequest(get({ ...headers }), edge));
      assert.equal(await res.text(), "the room's own GET");
      assert.equal(runs.length, 1);
      assert.equal(runs[0]!.method, "GET");
      assert.equal(runs[0]!.headers.get("x-party-shard-view-token"), null);
    });
  }

  it("a GET or HEAD with the right token is handed to the placement room for its view, the token dropped", async () => {
    for (const method of ["GET", "HEAD"]) {
      const { edge, runs } = edgeWith(roomAnswer, TOKEN);
      const answer = await edgeRequest(get({ "x-party-shard-view-token": TOKEN }, method), edge);
      assert.ok(answer instanceof Request, `${method}: the view is the placement room's`);
      assert.equal(answer.headers.get("x-party-shard-view-token"), null);
      assert.equal(runs.length, 0);
    }
  });

  it("a HEAD without the token is the room's own HEAD", async () => {
    const { edge, runs } = edgeWith(roomAnswer, TOKEN);
    const res = await respond(edgeRequest(get({}, "HEAD"), edge));
    assert.equal(res.status, 200);
    assert.deepEqual(runs.map((req) => req.method), ["HEAD"]);
  });
});

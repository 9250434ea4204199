import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { edgeConnect, edgeRequest } from "../src/runtime/edge.js";
import { placeAtEdge } from "../src/runtime/edge-placement.js";
import type { Edge } from "../src/runtime/host.js";
import { UNKNOWN_CONNECTION } from "../src/runtime/protocol.js";

/** An edge whose leader is the party: `answer` is its onRequest, each run recorded. */
function edgeWith(answer: (req: Request) => Promise<Response>, viewToken?: string) {
  const runs: Request[] = [];
  const edge: Edge = {
    room: "lobby",
    leader: (path, init) => {
      // A write streamed to its shard comes on as a stream (Node wants `duplex` for one).
      const req = new Request(`http://party/parties/main/lobby${path}`, { ...init, duplex: "half" } as RequestInit);
      runs.push(req);
      return answer(req);
    },
    routerRoom: () => () => Promise.reject(new Error("no router room here")),
    toShard: () => Promise.reject(new Error("no shard here")),
    hook: async (_kind, req) => req,
    shards: 2,
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

describe("a write reaches the leader only once the shard holding its socket said the key is the socket's", () => {
  const WRITER = { id: "writer é", key: "k".repeat(32) };
  /**
   * Shard 2 holds the writer; `asked` lists the shards asked whether they hold it, in order. A
   * write POSTed to a shard goes on to the leader when the shard holds its writer, as
   * shard-writes.ts forwards it (`forwardedBy` lists the shards that did).
   */
  function writerEdge(shards: number | null = 3, holder = 2, writer = WRITER, leader = async () => new Response("ok", { headers: { "x-party-shard-batch": "1" } })) {
    const asked: number[] = [];
    const forwardedBy: number[] = [];
    const { edge, runs } = edgeWith(leader);
    const room = (name: string) => async (path: string, init: { method: string; headers?: HeadersInit; body?: ArrayBuffer | string }) => {
      const shard = Number(/!shard-(\d+)$/.exec(name)?.[1]);
      const headers = new Headers(init.headers);
      const held = shard === holder && decodeURIComponent(headers.get("x-party-shard-connection") ?? "") === writer.id && headers.get("x-party-shard-key") === writer.key;
      if (init.method !== "POST") {
        asked.push(shard);
        return new Response(null, { status: held ? 204 : 404 });
      }
      if (!held) return new Response(null, { status: 404, headers: { "x-party-shard-holder": "none" } });
      forwardedBy.push(shard);
      return edge.leader(path, init);
    };
    return { edge: { ...edge, shards: shards ?? undefined, routerRoom: room }, runs, asked, forwardedBy };
  }
  /** A body that counts what was pulled from it: 2 MiB, in 64 KiB chunks. */
  function countedBody() {
    const read = { chunks: 0 };
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (++read.chunks > 32) return controller.close();
        controller.enqueue(new Uint8Array(65_536));
      },
    });
    return { body, read };
  }
  const writeFrom = (id: string, key: string, extra: Record<string, string> = {}, body: BodyInit = "hello") =>
    new Request("http://host/parties/router/lobby", {
      method: "POST",
      body,
      headers: { "x-party-shard-connection": encodeURIComponent(id), "x-party-shard-key": key, "x-party-shard-seq": "1", ...extra },
      duplex: "half",
    } as RequestInit);

  it("an unknown id and a known id with a wrong key get the same answer; the body is not read, the leader never asked", async () => {
    const answers: { status: number; text: string; headers: string }[] = [];
    for (const [id, key] of [["nobody", WRITER.key], [WRITER.id, "x".repeat(32)]] as const) {
      const { edge, runs } = writerEdge();
      const { body, read } = countedBody();
      const res = await respond(edgeRequest(writeFrom(id, key, {}, body as unknown as BodyInit), edge));
      answers.push({ status: res.status, text: await res.text(), headers: JSON.stringify([...res.headers]) });
      assert.equal(runs.length, 0, "nothing reached the leader");
      assert.ok(read.chunks <= 2, `${read.chunks} chunks of 64 KiB were read of an anonymous 2 MiB body`);
    }
    assert.equal(answers[0]!.status, 425);
    assert.deepEqual(answers[0], answers[1]);
  });

  it("a batch from an unknown writer is refused the same way, unread", async () => {
    const { edge, runs } = writerEdge();
    const { body, read } = countedBody();
    const res = await respond(edgeRequest(writeFrom("nobody", WRITER.key, { "content-type": "application/vnd.party-shard.batch+json" }, body as unknown as BodyInit), edge));
    assert.equal(res.status, 425);
    assert.equal(runs.length, 0);
    assert.ok(read.chunks <= 2);
  });

  it("without a hint every shard is asked; the answer names the holder, and with it the write goes there at once (one request, its key checked as the shard takes it)", async () => {
    const first = writerEdge();
    const res = await respond(edgeRequest(writeFrom(WRITER.id, WRITER.key), first.edge));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-party-shard-holder"), "2");
    assert.deepEqual(first.asked.sort(), [1, 2, 3]);
    assert.deepEqual(first.forwardedBy, [2], "the write went to the leader through its holder");
    assert.equal(first.runs.length, 1);
    assert.equal(first.runs[0]!.headers.get("x-party-shard-holder"), null, "the hint never reaches the party");
    const hinted = writerEdge();
    assert.equal((await respond(edgeRequest(writeFrom(WRITER.id, WRITER.key, { "x-party-shard-holder": "2" }), hinted.edge))).status, 200);
    assert.deepEqual(hinted.asked, [], "no check of its own");
    assert.deepEqual(hinted.forwardedBy, [2]);
    assert.equal(hinted.runs.length, 1);
  });

  it("without a hint, the write goes to the shard this isolate placed the writer's socket on, at once", async () => {
    const placedWriter = { id: "placed here", key: WRITER.key };
    const probe = writerEdge();
    const counted = { ...probe.edge, routerRoom: () => async () => Response.json({ load: [0, 0, 0] }) };
    // Clients on every shard of this room: each is a likely holder of a writer not placed here.
    for (let i = 0; i < 30; i++) placeAtEdge(counted, 3, `other ${i}`);
    const placed = placeAtEdge(counted, 3, placedWriter.id)!;
    const { edge, asked, forwardedBy } = writerEdge(3, placed, placedWriter);
    assert.equal((await respond(edgeRequest(writeFrom(placedWriter.id, placedWriter.key), edge))).status, 200);
    assert.deepEqual(asked, [], "no check of its own, nor one per shard");
    assert.deepEqual(forwardedBy, [placed]);
  });

  it("a writer that left its shard between the check and the write gets 425 (it retries), and the leader is not asked", async () => {
    const { edge, runs } = writerEdge();
    const left = { ...edge, routerRoom: (name: string) => async (path: string, init: { method: string; headers?: HeadersInit }) => (init.method === "POST" ? new Response(null, { status: 404, headers: { "x-party-shard-holder": "none" } }) : edge.routerRoom(name)(path, init)) };
    for (const extra of [{}, { "content-type": "application/vnd.party-shard.batch+json" }]) {
      const body = "content-type" in extra ? JSON.stringify([{ k: "b1", t: "one" }]) : "hello";
      const res = await respond(edgeRequest(writeFrom(WRITER.id, WRITER.key, extra, body), left));
      const status = "content-type" in extra ? ((await res.json()) as { results: { status: number }[] }).results[0]!.status : res.status;
      assert.equal(status, 425);
    }
    assert.equal(runs.length, 0);
  });

  it("a stale or nonsense hint costs a request more, never the write", async () => {
    for (const hint of ["1", "99", "2abc", "-1"]) {
      const { edge, runs, asked } = writerEdge();
      const res = await respond(edgeRequest(writeFrom(WRITER.id, WRITER.key, { "x-party-shard-holder": hint }), edge));
      assert.equal(res.status, 200, hint);
      assert.equal(runs.length, 1);
      assert.equal(await runs[0]!.text(), "hello", `${hint}: the router's copy of the body, whole`);
      assert.ok(asked.length <= 4 && asked.every((shard) => shard >= 1 && shard <= 3), `${hint}: asked ${asked}`);
    }
  });

  it("a hint naming a shard that does not hold the writer, nor does any other: the unknown writer's 425, the body unread, the leader never asked", async () => {
    for (const [id, key] of [["nobody", WRITER.key], [WRITER.id, "x".repeat(32)]] as const) {
      const { edge, runs, forwardedBy } = writerEdge();
      const { body, read } = countedBody();
      const res = await respond(edgeRequest(writeFrom(id, key, { "x-party-shard-holder": "2" }, body as unknown as BodyInit), edge));
      assert.equal(res.status, 425);
      assert.equal(await res.text(), UNKNOWN_CONNECTION);
      assert.deepEqual([runs.length, forwardedBy.length], [0, 0]);
      assert.ok(read.chunks <= 2, `${read.chunks} chunks of 64 KiB were read of an anonymous 2 MiB body`);
    }
  });

  it("a write streamed to a named shard that does not answer, or asks to try again, goes again whole from the router's copy: checked first if the shard never answered", async () => {
    for (const [what, answer] of [
      ["no answer", () => Promise.reject(new Error("the stub broke"))],
      ["503", () => Promise.resolve(new Response("try again", { status: 503 }))],
    ] as const) {
      const { edge, runs, asked, forwardedBy } = writerEdge();
      let first = true;
      const flaky = {
        ...edge,
        routerRoom: (name: string) => async (path: string, init: { method: string; headers?: HeadersInit; body?: ArrayBuffer | string | ReadableStream<Uint8Array> }) => {
          if (init.method === "POST" && first) {
            first = false;
            // The shard read the stream (it held the writer) before it failed.
            if (init.body instanceof ReadableStream) await new Response(init.body).arrayBuffer();
            return answer();
          }
          return edge.routerRoom(name)(path, init as { method: string; headers?: HeadersInit; body?: ArrayBuffer | string });
        },
      };
      const res = await respond(edgeRequest(writeFrom(WRITER.id, WRITER.key, { "x-party-shard-holder": "2" }, "the write"), flaky));
      assert.equal(res.status, 200, what);
      assert.deepEqual(await Promise.all(runs.map((run) => run.text())), ["the write"], `${what}: the leader got it once, whole`);
      assert.deepEqual(forwardedBy, [2]);
      assert.deepEqual(asked, what === "503" ? [] : [2], `${what}: a shard that said nothing is asked before its copy goes`);
    }
  });

  it("a batch naming its holder streams there, one request; what the leader leaves to try again goes from the router's copy", async () => {
    let calls = 0;
    const sent: string[][] = [];
    const leader = async (req: Request) => {
      const entries = (await req.json()) as { k: string }[];
      sent.push(entries.map((entry) => entry.k));
      // The first time, the second write's connection is not known yet (425): it goes again alone.
      return Response.json({ results: ++calls === 1 ? [{ status: 200 }, { status: 425 }] : entries.map(() => ({ status: 200 })) });
    };
    const { edge, runs, asked, forwardedBy } = writerEdge(3, 2, WRITER, leader);
    const batch = JSON.stringify([{ k: "b1", t: "one" }, { k: "b2", t: "two" }]);
    const res = await respond(edgeRequest(writeFrom(WRITER.id, WRITER.key, { "content-type": "application/vnd.party-shard.batch+json", "x-party-shard-holder": "2" }, batch), edge));
    assert.deepEqual(((await res.json()) as { results: { status: number }[] }).results.map((result) => result.status), [200, 200]);
    assert.deepEqual(asked, [], "no check of its own");
    assert.deepEqual(forwardedBy, [2, 2]);
    assert.equal(runs.length, 2);
    assert.deepEqual(sent, [["b1", "b2"], ["b2"]]);
  });

  it("a batch with a stale hint goes, whole and once, to the shard that holds its writer", async () => {
    const { edge, runs, forwardedBy } = writerEdge(3, 2, WRITER, async () => Response.json({ results: [{ status: 200 }, { status: 200 }] }));
    const batch = JSON.stringify([{ k: "b1", t: "one" }, { k: "b2", t: "two" }]);
    const res = await respond(edgeRequest(writeFrom(WRITER.id, WRITER.key, { "content-type": "application/vnd.party-shard.batch+json", "x-party-shard-holder": "3" }, batch), edge));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-party-shard-holder"), "2");
    assert.deepEqual(((await res.json()) as { results: { status: number }[] }).results.map((result) => result.status), [200, 200]);
    assert.deepEqual(forwardedBy, [2]);
    assert.equal(runs.length, 1);
  });

  it("a router that does not say its shard count takes no write, and says how to fix it in the log", async () => {
    const { edge, runs } = writerEdge(null);
    const logged = mock.method(console, "error", () => undefined);
    try {
      const res = await respond(edgeRequest(writeFrom(WRITER.id, WRITER.key), edge));
      assert.equal(res.status, 425);
      assert.equal(runs.length, 0);
      assert.match(String(logged.mock.calls[0]?.arguments[0]), /init --force/);
    } finally {
      logged.mock.restore();
    }
  });

  it("a browser may send the hint and read it back", async () => {
    const { edge } = writerEdge();
    const preflight = new Request("http://host/parties/router/lobby", { method: "OPTIONS", headers: { "access-control-request-method": "POST", "access-control-request-headers": "x-party-shard-connection, x-party-shard-holder" } });
    const res = await respond(edgeRequest(preflight, edge));
    assert.match(res.headers.get("access-control-allow-headers") ?? "", /x-party-shard-holder/);
    assert.match(res.headers.get("access-control-expose-headers") ?? "", /x-party-shard-holder/);
  });
});

describe("a socket through the router brings its request's cf to the shard (and so to the party's onConnect)", () => {
  /** An edge that records the headers the shard was given. */
  function connectEdge() {
    const given: Headers[] = [];
    const { edge } = edgeWith(async () => new Response("the leader is not asked"));
    const placement = async () => Response.json({ load: [0, 0] });
    return { edge: { ...edge, routerRoom: () => placement, toShard: async (_room: string, _search: string, headers: Headers) => (given.push(headers), new Response(null, { status: 204 })) }, given };
  }
  const socketRequest = (cf: unknown, headers: Record<string, string> = {}) => {
    const req = new Request("http://host/parties/router/lobby?_pk=a", { headers: { upgrade: "websocket", ...headers } });
    // Node's Request has no cf; the Workers runtime's has.
    if (cf !== undefined) Object.defineProperty(req, "cf", { value: cf });
    return req;
  };
  const cfGiven = (headers: Headers) => {
    const header = headers.get("x-party-shard-cf");
    return header === null ? undefined : (JSON.parse(decodeURIComponent(header)) as unknown);
  };

  it("as JSON in a header of ours, any text in it", async () => {
    const { edge, given } = connectEdge();
    const cf = { country: "CH", city: "Zürich", colo: "ZRH", asn: 13335 };
    await edgeConnect(socketRequest(cf), edge);
    assert.deepEqual(cfGiven(given[0]!), cf);
  });

  it("none when the platform gave none, and a client's own header of that name never passes", async () => {
    const { edge, given } = connectEdge();
    await edgeConnect(socketRequest(undefined, { "x-party-shard-cf": encodeURIComponent(JSON.stringify({ country: "forged" })) }), edge);
    assert.equal(given[0]!.get("x-party-shard-cf"), null);
  });

  it("none past 8 KiB of JSON: a header stays bounded", async () => {
    const { edge, given } = connectEdge();
    await edgeConnect(socketRequest({ padding: "x".repeat(9_000) }), edge);
    assert.equal(given[0]!.get("x-party-shard-cf"), null);
  });
});

import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { before, it } from "node:test";
import WebSocket from "ws";
import { handshakeOutcome, wsAttempt } from "../helpers/raw-http.js";
import { AUTH, SECURITY_PLATFORMS, SETTLE_MS, SHARDS, WRITTEN, describeSecurity, type Client } from "../helpers/security.js";
import { sleep, sum, until } from "../helpers/wait.js";

const { router: ROUTER, party: PARTY, requestAnswer: OK } = SECURITY_PLATFORMS.partyserver;
/** wrangler dev's proxy's own answer when its connection to the Worker broke (see the suite's post). */
const PROXY_RESTARTED = "Your worker restarted mid-request";
/** wrangler dev evicts a hibernating room after ~10 s without events, sockets and links open or not. */
const QUIET_MS = 13_000;
/** The room left quiet from the start of the suite, so that its leader is evicted meanwhile. */
const ASLEEP = "asleep";

// The attacks both platforms face are test/helpers/security.ts's (with the fixture, and the
// Worker's `/legacy/` and `/forward/` routes); here, wrangler dev's and PartyServer's own.
describeSecurity("attacks on a PartyServer app after init + migrate, on one wrangler dev", "partyserver", (suite) => {
  const { host, server, join, cleanups, clients, expectInboxes, opened, refusal, load, post, write } = suite;
  let asleep: Client[] = [];
  let asleepSince = 0;
  /** The leader instance that answered just before the quiet began (the fixture's x-instance). */
  let asleepInstance = "";

  before(async () => {
    asleep = await clients(ASLEEP, ["asleep-1", "asleep-2"]);
    // Awake, a request's broadcast reaches them: the control for the test after the quiet.
    const res = await fetch(`http://${host()}/parties/${PARTY}/${ASLEEP}`, { method: "POST", headers: AUTH, body: "awake" });
    assert.equal(res.status, 200, await res.text());
    asleepInstance = res.headers.get("x-instance") ?? "";
    await expectInboxes(asleep, ["awake"]);
    asleepSince = Date.now();
  });

  it("a room whose onStart fails once: its router client is closed (1011), reconnects, and is then served like any other", async (t) => {
    const { socket, say } = join()({ host: host(), room: "flaky", id: "f-1", WebSocket });
    const inbox: string[] = [];
    const closes: number[] = [];
    socket.addEventListener("message", (event) => inbox.push(String(event.data)));
    (socket as unknown as EventTarget).addEventListener("close", (event) => closes.push((event as CloseEvent).code));
    cleanups.push(() => socket.close());
    await until(() => inbox.includes("hello f-1 alice"), 15_000);
    const [witness] = await clients("flaky", ["f-witness"]);
    say("after");
    await until(() => inbox.includes("f-1: after"), 10_000);
    await expectInboxes([witness!], ["f-1: after"]);
    t.diagnostic(`closes ${JSON.stringify(closes)}, inbox ${JSON.stringify(inbox)}`);
    assert.equal(closes[0], 1011, JSON.stringify(closes));
    assert.deepEqual(inbox.filter((text) => text === "f-1: after"), ["f-1: after"]);
  });

  it("runs the Worker's onBeforeConnect / onBeforeRequest for router sockets and POSTs exactly as for direct ones", async () => {
    const room = "hooks";
    // Refused: the same status and body either way.
    const refusedDirect = await refusal(`ws://${host()}/parties/${PARTY}/${room}`);
    assert.deepEqual(refusedDirect, { status: 401, body: "no token" });
    assert.deepEqual(await refusal(`ws://${host()}/parties/${ROUTER}/${room}`), refusedDirect);
    assert.deepEqual(await refusal(`ws://${host()}/parties/${ROUTER}/${room}?token=bad&_pk=h-x`), refusedDirect);
    // Allowed: the class sees the request the hook returned (x-user), on a shard as directly.
    const [routed] = await clients(room, ["h-routed"]);
    const direct = await directClient(room, "h-direct");
    assert.equal(sum(await load(room)), 1);

    const refusedPost = await post(`/parties/${PARTY}/${room}`, {}, "nope");
    assert.deepEqual(refusedPost, { status: 403, body: "forbidden" });
    assert.deepEqual(await post(`/parties/${ROUTER}/${room}`, {}, "nope"), refusedPost);
    assert.deepEqual(await post(`/parties/${ROUTER}/${room}`, { authorization: "Bearer bad" }, "nope"), refusedPost);
    assert.deepEqual(await post(`/parties/${ROUTER}/${room}`, AUTH, "via router"), OK);
    assert.deepEqual(await post(`/parties/${PARTY}/${room}`, AUTH, "via party"), OK);
    await expectInboxes([routed!, direct], ["via router", "via party"]);
  });

  it("a plain routePartykitRequest elsewhere in the Worker reaches no room of PartyShardRouter: nothing is relayed", async (t) => {
    const room = "legacy";
    const [victim, witness] = await clients(room, ["victim-l", "witness-l"]);
    const before = await load(room);
    assert.equal(sum(before), 2);
    // The legacy route itself works: it reaches the class, without hooks (as the app wrote it).
    assert.deepEqual(await post(`/legacy/${PARTY}/${room}`, {}, "legacy works"), { status: 200, body: "ok null" });
    await expectInboxes([victim!, witness!], ["legacy works"]);

    const answers: string[] = [];
    const wrong: string[] = [];
    const refused = (what: string, status: number | string, body = "") => {
      const line = `${what}: ${status} ${body.slice(0, 160)}`;
      answers.push(line);
      if (!/^(refused )?4\d\d$/.test(String(status))) wrong.push(line);
    };
    const keyed = { "x-party-shard-connection": victim!.id, "x-party-shard-key": victim!.key, "idempotency-key": randomUUID(), "content-type": "text/plain" };
    for (const name of [`${room}!shard-1`, `${room}%21shard-1`, `${room}!shard-2`, `${room}!shard-3`, `${room}!shard-4`, room]) {
      const url = `/legacy/${ROUTER}/${name}`;
      const get = await fetch(`http://${host()}${url}`);
      refused(`GET ${url}`, get.status, await get.text());
      const relay = await post(url, { "x-party-shard-link": "wake", ...AUTH }, "relay me");
      refused(`POST (link wake) ${url}`, relay.status, relay.body);
      const asVictim = await post(url, keyed, "as the victim");
      refused(`POST (victim's write) ${url}`, asVictim.status, asVictim.body);
      refused(`WS ${url}`, await tryWebSocket(`ws://${host()}${url}?token=good&_pk=intruder`));
      refused(`WS (victim's id) ${url}`, await tryWebSocket(`ws://${host()}${url}?token=good&_pk=victim-l&_psk=${victim!.key}`));
    }
    // A link's id through the legacy route to the class.
    for (const url of [`/legacy/${PARTY}/${room}?_pk=party-shard-link-1-evil`, `/legacy/${PARTY}/${room}?_pk=party-shard-link-0`]) {
      refused(`WS ${url}`, await tryWebSocket(`ws://${host()}${url}`));
    }
    t.diagnostic(answers.join("\n"));
    await sleep(SETTLE_MS * 3);
    assert.deepEqual(wrong, [], `every answer:\n${answers.join("\n")}`);
    await expectInboxes([victim!, witness!], []);
    assert.deepEqual(await load(room), before);
    // Still a working room.
    assert.deepEqual(await write(room, victim!, "after"), WRITTEN);
    await expectInboxes([victim!, witness!], ["victim-l: after"]);
  });

  it("our headers sent straight to /parties/<party>/<room> never act: the request is the app's, with its auth", async () => {
    const room = "headers";
    const [victim, witness] = await clients(room, ["victim-h", "witness-h"]);
    const direct = `/parties/${PARTY}/${room}`;
    const asVictim = { "x-party-shard-connection": victim!.id, "x-party-shard-key": victim!.key, "idempotency-key": randomUUID() };
    // Without the app's auth, every one is refused by its hook, not taken by the runtime.
    for (const headers of [asVictim, { "x-party-shard-stats": "1" }, { "x-party-shard-forwarded": ROUTER }, { "x-party-shard-link": "1" }]) {
      assert.deepEqual(await post(direct, headers, "no auth"), { status: 403, body: "forbidden" }, JSON.stringify(headers));
    }
    // With it, a plain request: not a write as the victim, not the runtime's stats.
    assert.deepEqual(await post(direct, { ...asVictim, ...AUTH }, "plain 1"), OK);
    assert.deepEqual(await post(direct, { "x-party-shard-stats": "1", ...AUTH }, "plain 2"), OK);
    assert.deepEqual(await post(direct, { "x-party-shard-forwarded": ROUTER, "x-party-shard-attempt": "2", ...AUTH }, "plain 3"), OK);
    const stats = await fetch(`http://${host()}${direct}`, { headers: { "x-party-shard-stats": "1", ...AUTH } });
    assert.deepEqual({ status: stats.status, body: await stats.text() }, OK);
    // The GET's empty body is broadcast too: the class's onRequest ran for it.
    await expectInboxes([victim!, witness!], ["plain 1", "plain 2", "plain 3", ""]);

    // A socket carrying a link's header (and a link's id) is not a link: refused or an ordinary client.
    const linkLike = await wsAttemptWith(`ws://${host()}${direct}?token=good&_pk=party-shard-link-1-evil`, { "x-party-shard-link": "1" });
    assert.equal(linkLike, "refused 400");
    const socketWithHeaders = await wsAttemptWith(`ws://${host()}${direct}?token=good&_pk=hdr-1`, { "x-party-shard-link": "1", "x-party-shard-uri": `http://x/parties/${PARTY}/${room}?_pk=victim-h&_psk=${victim!.key}` });
    assert.equal(socketWithHeaders, "opened: hello hdr-1 alice");
    await expectInboxes([victim!, witness!], []);
  });

  it("the router's own headers from a client never act at the router: no fake load, no placement, no stats", async () => {
    const room = "router-headers";
    const [client] = await clients(room, ["rh-1"]);
    const before = await load(room);
    assert.equal(sum(before), 1);
    const report = encodeURIComponent(JSON.stringify({ shard: 1, count: 9_999, id: "fake", from: "attacker", n: 1e9 }));
    // Without the app's auth a plain request, refused by its hook; with it, the class's own request.
    assert.deepEqual(await post(`/parties/${ROUTER}/${room}`, { "x-party-shard-load": report }, "load"), { status: 403, body: "forbidden" });
    assert.deepEqual(await post(`/parties/${ROUTER}/${room}`, { "x-party-shard-load": report, ...AUTH }, "load"), OK);
    assert.deepEqual(await post(`/parties/${ROUTER}/${room}`, { "x-party-shard-place": "rh-2", ...AUTH }, "place"), OK);
    assert.deepEqual(await post(`/parties/${ROUTER}/${room}`, { "x-party-shard-stats": "1", ...AUTH }, "stats"), OK);
    // A GET carrying them with the view token is the load view, unchanged.
    const view = await fetch(`http://${host()}/parties/${ROUTER}/${room}`, { headers: { "x-party-shard-load": report, "x-party-shard-place": "rh-3", "x-party-shard-view-token": server().viewToken } });
    assert.deepEqual(((await view.json()) as { load: number[] }).load, before);
    await expectInboxes([client!], ["load", "place", "stats"]);
    assert.deepEqual(await load(room), before);
  });

  it("a client's own x-partykit-namespace header does not make an internet request look internal", async (t) => {
    const room = "namespace";
    const [victim, witness] = await clients(room, ["victim-n", "witness-n"]);
    const answers: string[] = [];
    const asVictim = { "x-party-shard-connection": victim!.id, "x-party-shard-key": victim!.key, "idempotency-key": randomUUID() };
    for (const value of ["", PARTY, ROUTER]) {
      const ns = { "x-partykit-namespace": value };
      // Straight to the class: our headers are still dropped, the hook still decides.
      assert.deepEqual(await post(`/parties/${PARTY}/${room}`, { ...ns, ...asVictim }, "no auth"), { status: 403, body: "forbidden" }, value);
      assert.deepEqual(await post(`/parties/${PARTY}/${room}`, { ...ns, ...asVictim, ...AUTH }, `direct ${value}`), OK, value);
      const stats = await post(`/parties/${PARTY}/${room}`, { ...ns, "x-party-shard-stats": "1", ...AUTH }, "");
      assert.deepEqual(stats, OK, value);
      // Through the router: a write still needs the key; a plain request still needs the hook.
      assert.deepEqual(await post(`/parties/${ROUTER}/${room}`, { ...ns, "x-party-shard-connection": victim!.id }, "no key"), { status: 403, body: "forbidden" }, value);
      const wrongKey = await post(`/parties/${ROUTER}/${room}`, { ...ns, "x-party-shard-connection": victim!.id, "x-party-shard-key": "0".repeat(32) }, "wrong key");
      assert.equal(wrongKey.status, 425, `${value}: ${wrongKey.body}`);
      const ws = await wsAttemptWith(`ws://${host()}/parties/${ROUTER}/${room}?_pk=ns-${value || "empty"}`, ns);
      answers.push(`socket without a token through the router, x-partykit-namespace "${value}": ${ws}`);
      assert.match(ws, /^refused 4\d\d/, value);
      const linkId = await wsAttemptWith(`ws://${host()}/parties/${PARTY}/${room}?token=good&_pk=party-shard-link-1-ns`, { ...ns, "x-party-shard-link": "1" });
      assert.equal(linkId, "refused 400", value);
    }
    t.diagnostic(answers.join("\n"));
    await expectInboxes([victim!, witness!], ["direct ", "", `direct ${PARTY}`, "", `direct ${ROUTER}`, ""]);
  });

  it("a client's x-partykit-props never become the props a room starts with, through the router or directly", async (t) => {
    const admin = { "x-partykit-props": btoa(JSON.stringify({ role: "admin" })), ...AUTH };
    const role = async (pathname: string, headers: Record<string, string>) => {
      let res = await fetch(`http://${host()}${pathname}`, { method: "POST", headers, body: "" });
      let text = await res.text();
      // As in post: wrangler dev's proxy's 503, before the Worker saw the request.
      if (res.status === 503 && text.startsWith(PROXY_RESTARTED)) {
        res = await fetch(`http://${host()}${pathname}`, { method: "POST", headers, body: "" });
        text = await res.text();
      }
      return `${res.status} ${text} role=${res.headers.get("x-role")}`;
    };
    // Each the first request of its room: the one whose props onStart gets.
    const answers = {
      direct: await role(`/parties/${PARTY}/props-direct`, admin),
      router: await role(`/parties/${ROUTER}/props-router`, admin),
      routerAsEdge: await role(`/parties/${ROUTER}/props-edge`, { ...admin, "x-partykit-namespace": PARTY }),
      routerAsEdgeThenDirect: await role(`/parties/${PARTY}/props-edge`, AUTH),
    };
    t.diagnostic(JSON.stringify(answers));
    // Straight to the class, the Worker's props win, as PartyServer sets them.
    assert.equal(answers.direct, "200 ok alice-http role=member");
    for (const [how, answer] of Object.entries(answers)) assert.doesNotMatch(answer, /role=admin/, how);
  });

  it("a Worker route handing a client's request to the class (getServerByName(…).fetch) makes no client a shard's link", async (t) => {
    const room = "watch-link";
    const [victim, witness] = await clients(room, ["victim-s1", "witness-s1"]);
    const before = await load(room);
    // The room's handlers log, so a forged frame that ran one would show.
    const members = ["connect victim-s1", "connect witness-s1", "start -"];
    assert.deepEqual(watched(room).sort(), members);
    const uri = `http://${host()}/parties/${PARTY}/${room}?_pk=ghost-s1`;
    // What a shard says on its link: who is there, then a socket's open, messages and close.
    const frames = [
      { t: "hello", incarnation: "evil", acked: 0, clients: [] },
      { t: "open", seq: 1, id: "ghost-s1", uri, headers: [["x-user", "admin"]] },
      { t: "message", seq: 2, id: "ghost-s1", data: { text: "forged" } },
      { t: "message", seq: 3, id: victim!.id, data: { text: "forged as the victim" } },
      { t: "close", seq: 4, id: victim!.id, code: 1000, reason: "forged" },
    ];
    const forward = `ws://${host()}/forward/${room}`;
    const outcomes = [
      await forgeLink(`${forward}?_pk=party-shard-link-1-evil`, { "x-party-shard-link": "1" }, frames),
      await forgeLink(`${forward}?_pk=party-shard-link-2-evil`, {}, frames),
    ];
    t.diagnostic(`the forged links: ${JSON.stringify(outcomes)}; load ${JSON.stringify(before)}`);
    await sleep(SETTLE_MS * 3);
    assert.deepEqual(watched(room).sort(), members, "the room's handlers, after the forged frames");
    await expectInboxes([victim!, witness!], []);
    // Refused, or closed before it took a frame (a taken frame is acknowledged).
    for (const outcome of outcomes) {
      if ("refused" in outcome) assert.ok(outcome.refused >= 400 && outcome.refused < 500, JSON.stringify(outcome));
      else assert.ok("received" in outcome && outcome.received.length === 0 && outcome.closed !== undefined, JSON.stringify(outcome));
    }
    // Nobody was closed or forgotten: the victim writes, everyone receives.
    assert.deepEqual(await write(room, victim!, "still here"), WRITTEN);
    await expectInboxes([victim!, witness!], ["victim-s1: still here"]);
    assert.deepEqual(await load(room), before);
  });

  it("a Worker route that hands any request to any Durable Object by name (env[binding]) reaches no room of the router's: a socket without the router's ticket is refused, so no client writes the URL or headers its party sees; no load view without the token, no forged report, no shard's count, key check or wake, no leader's stats", async (t) => {
    const room = "watch-any";
    const [witness] = await clients(room, ["witness-a1"]);
    const members = watched(room).sort();
    assert.ok(members.includes("connect witness-a1"), JSON.stringify(members));
    // Past the Worker's hook (no token), with the name the hook would give, to each shard.
    const outcomes = [];
    for (let shard = 1; shard <= SHARDS; shard++) {
      const id = `ghost-a${shard}`;
      const url = `ws://${host()}/do/PartyShardRouter/${encodeURIComponent(`${room}!shard-${shard}`)}?_pk=${id}`;
      outcomes.push(await forgeLink(url, { "x-user": "admin", "x-party-shard-uri": `http://${host()}/parties/${PARTY}/${room}?_pk=${id}&token=good` }, []));
    }
    // And requests: the placement room's load view (no token) and a forged load report, each shard's count, key check and wake.
    const before = await load(room);
    const report = encodeURIComponent(JSON.stringify({ shard: 1, from: "evil", n: 1, count: 999 }));
    const asked: [string, RequestInit][] = [
      [`/do/PartyShardRouter/${room}`, {}],
      [`/do/PartyShardRouter/${room}`, { method: "POST", headers: { "x-party-shard-load": report } }],
      ...Array.from({ length: SHARDS }, (_, i): [string, RequestInit][] => [
        [`/do/PartyShardRouter/${encodeURIComponent(`${room}!shard-${i + 1}`)}`, {}],
        [`/do/PartyShardRouter/${encodeURIComponent(`${room}!shard-${i + 1}`)}`, { headers: { "x-party-shard-connection": "witness-a1", "x-party-shard-key": "guess" } }],
        [`/do/PartyShardRouter/${encodeURIComponent(`${room}!shard-${i + 1}`)}`, { method: "POST", headers: { "x-party-shard-link": "wake" } }],
      ]).flat(),
    ];
    const answers: string[] = [];
    for (const [path, init] of asked) {
      const res = await fetch(`http://${host()}${path}`, init);
      answers.push(`${init.method ?? "GET"} ${path}: ${res.status} ${(await res.text()).slice(0, 80)}`);
    }
    t.diagnostic(`the sockets through /do/: ${JSON.stringify(outcomes)}; requests: ${answers.join(" | ")}`);
    await sleep(SETTLE_MS * 3);
    for (const outcome of outcomes) assert.ok("refused" in outcome && outcome.refused >= 400 && outcome.refused < 500, JSON.stringify(outcome));
    for (const answer of answers) assert.match(answer, /: 404 /);
    assert.deepEqual(await load(room), before, "the load view after a forged report");
    assert.deepEqual(watched(room).sort(), members, "the room's handlers, after the sockets through /do/");
    // The leader's stats go to placement by RPC: through the route, the stats header is the
    // class's request (in a room of its own: the class broadcasts a request's body, here empty).
    const stats = await fetch(`http://${host()}/do/Secure/${room}-stats`, { headers: { "x-party-shard-stats": "1", "x-user": "bob" } });
    const statsText = await stats.text();
    assert.ok(!statsText.includes("linkFramesOut"), `the leader's stats through /do/: ${stats.status} ${statsText.slice(0, 200)}`);
    const view = (await (await fetch(`http://${host()}/parties/${ROUTER}/${room}`, { headers: { "x-party-shard-view-token": server().viewToken } })).json()) as { leader?: { linkFramesOut?: number } | null };
    assert.ok(typeof view.leader?.linkFramesOut === "number", `the load view's leader stats: ${JSON.stringify(view.leader)}`);
    // The route itself works: it reaches the class's rooms as it reached them before init.
    const direct = await forgeLink(`ws://${host()}/do/Secure/${room}?_pk=plain-a1`, { "x-user": "bob" }, []);
    assert.ok("received" in direct && direct.received.some((line) => line.startsWith("hello plain-a1")), JSON.stringify(direct));
    await expectInboxes([witness!], []);
  });

  it("a socket straight to the class with the id of a client on a shard gets none of its private messages: refused while that client is connected", async (t) => {
    const room = "dm";
    const [victim, sender] = await clients(room, ["victim-dm", "sender-dm"]);
    sender!.say("dm victim-dm before");
    await expectInboxes([victim!], ["dm from sender-dm: before"]);
    // Through routePartykitRequest, and through a Worker route that hands the request to the class.
    for (const url of [`ws://${host()}/parties/${PARTY}/${room}?token=good&_pk=victim-dm`, `ws://${host()}/forward/${room}?_pk=victim-dm`]) {
      const attacker = await wsAttempt(url);
      if (!attacker.refused) cleanups.push(() => attacker.socket.terminate());
      const secret = `dm from sender-dm: secret via ${new URL(url).pathname}`;
      sender!.say(`dm victim-dm secret via ${new URL(url).pathname}`);
      await until(() => victim!.inbox.includes(secret) || (!attacker.refused && attacker.inbox.includes(secret)), 5_000);
      await sleep(SETTLE_MS);
      const closed = attacker.refused ? undefined : await attacker.closedByServer(3_000);
      const attack = attacker.refused ? `refused ${attacker.status} ${attacker.body}` : `opened, received ${JSON.stringify(attacker.inbox)}, closed ${JSON.stringify(closed)}`;
      t.diagnostic(`${url.replace(host(), "…")}: ${attack}; the victim received ${JSON.stringify(victim!.inbox)}`);
      if (!attacker.refused) assert.ok(!attacker.inbox.includes(secret), attack);
      if (attacker.refused) assert.ok(attacker.status >= 400 && attacker.status < 500, attack);
      else assert.deepEqual({ code: closed?.code, inbox: attacker.inbox }, { code: 1008, inbox: [] }, attack);
      await expectInboxes([victim!], [secret]);
    }
    sender!.say("dm victim-dm after");
    await expectInboxes([victim!], ["dm from sender-dm: after"]);
  });

  it("a GET of the router without the view token (or with a wrong one) is the room's own GET, the app's auth first; with the token, the load view", async () => {
    const room = "view";
    await clients(room, ["view-1"]);
    const get = async (pathname: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`http://${host()}${pathname}`, { headers });
      return { status: res.status, body: await res.text() };
    };
    const direct = await get(`/parties/${PARTY}/${room}`);
    assert.deepEqual(direct, { status: 403, body: "forbidden" });
    assert.deepEqual(await get(`/parties/${ROUTER}/${room}`), direct);
    assert.deepEqual(await get(`/parties/${ROUTER}/${room}`, { authorization: "Bearer bad" }), direct);
    assert.deepEqual(await get(`/parties/${ROUTER}/${room}`, { "x-party-shard-view-token": `${server().viewToken}x` }), direct);
    // With the app's auth, the class's own answer, as directly: the view is not the app's business.
    const own = await get(`/parties/${PARTY}/${room}`, AUTH);
    assert.equal(own.status, 200, own.body);
    assert.deepEqual(await get(`/parties/${ROUTER}/${room}`, AUTH), own);
    const head = async (party: string) => (await fetch(`http://${host()}/parties/${party}/${room}`, { method: "HEAD" })).status;
    assert.equal(await head(ROUTER), await head(PARTY));
    // With the token, the view.
    assert.equal(sum(await load(room)), 1);
  });

  // The router sends a request again on 425 and 502–504, the class's own 503 too (router-live
  // specifies it): directly the handler runs once, routed up to MAX_ATTEMPTS times, each run with
  // the request's Idempotency-Key so that the class can tell a repeat.
  it("a routed request the class itself answers 503: the class's answer comes back, and every run carries the same Idempotency-Key", async (t) => {
    const room = "busy";
    const [witness] = await clients(room, ["busy-w"]);
    const busy = { ...AUTH, "x-answer": "503" };
    assert.deepEqual(await post(`/parties/${PARTY}/${room}`, { ...busy, "idempotency-key": "b2-direct" }, ""), { status: 503, body: "busy" });
    assert.deepEqual(await ran503(witness!), ["ran 503 b2-direct"]);
    const keyed = await post(`/parties/${ROUTER}/${room}`, { ...busy, "idempotency-key": "b2-routed" }, "");
    const ranKeyed = await ran503(witness!);
    const unkeyed = await post(`/parties/${ROUTER}/${room}`, busy, "");
    const ranUnkeyed = await ran503(witness!);
    t.diagnostic(`routed with a key: ${keyed.status} ${keyed.body}, runs ${JSON.stringify(ranKeyed)}; without: ${unkeyed.status} ${unkeyed.body}, runs ${JSON.stringify(ranUnkeyed)}`);
    assert.deepEqual(keyed, { status: 503, body: "busy" });
    assert.deepEqual(unkeyed, { status: 503, body: "busy" });
    for (const runs of [ranKeyed, ranUnkeyed]) assert.ok(runs.length >= 1 && runs.length <= 4, JSON.stringify(runs));
    assert.deepEqual(new Set(ranKeyed), new Set(["ran 503 b2-routed"]));
    assert.equal(new Set(ranUnkeyed).size, 1, JSON.stringify(ranUnkeyed));
    assert.notEqual(ranUnkeyed[0], "ran 503 null");
  });

  it("a client of a room whose onConnect throws (a 200-character message) is closed 1011 within seconds, through the router as directly", async (t) => {
    const closes = await Promise.all([
      `ws://${host()}/parties/${PARTY}/throws-direct?token=good&_pk=t-direct`,
      `ws://${host()}/parties/${ROUTER}/throws-routed?token=good&_pk=t-routed&_psk=${randomBytes(16).toString("hex")}`,
    ].map(async (url) => {
      const attempt = await wsAttempt(url);
      if (attempt.refused) return `refused ${attempt.status}`;
      const closed = await attempt.closedByServer(5_000);
      attempt.socket.terminate();
      return closed ? `closed ${closed.code}` : "open after 5 s";
    }));
    t.diagnostic(`direct: ${closes[0]}; through the router: ${closes[1]}`);
    assert.deepEqual(closes, ["closed 1011", "closed 1011"]);
  });

  it("a request through the router reaches onRequest without any x-party-shard-* header, as a direct one", async (t) => {
    const room = "own-headers";
    const [witness] = await clients(room, ["oh-w"]);
    const seen = async (party: string, headers: Record<string, string>) => {
      const res = await fetch(`http://${host()}/parties/${party}/${room}`, { method: "POST", headers, body: party });
      return { status: res.status, body: await res.text(), ours: res.headers.get("x-shard-headers") ?? "" };
    };
    const answers = {
      direct: await seen(PARTY, AUTH),
      routed: await seen(ROUTER, AUTH),
      routedWithOurs: await seen(ROUTER, { ...AUTH, "x-party-shard-stats": "1", "x-party-shard-forwarded": ROUTER }),
    };
    t.diagnostic(JSON.stringify(answers));
    for (const answer of Object.values(answers)) assert.deepEqual(answer, { ...OK, ours: "" });
    await expectInboxes([witness!], [PARTY, ROUTER, ROUTER]);
  });

  it("after the leader was evicted (its room quiet since the suite began), the first request that broadcasts reaches the clients on shards", async (t) => {
    await sleep(asleepSince + QUIET_MS - Date.now());
    const res = await fetch(`http://${host()}/parties/${PARTY}/${ASLEEP}`, { method: "POST", headers: AUTH, body: "wake up" });
    assert.deepEqual({ status: res.status, body: await res.text() }, OK);
    await until(() => asleep.every((client) => client.inbox.length > 0), 5_000);
    await sleep(SETTLE_MS);
    const instance = res.headers.get("x-instance");
    t.diagnostic(`quiet for ${Math.round((Date.now() - asleepSince) / 1000)} s; instance before ${asleepInstance}, after ${instance}; inboxes ${JSON.stringify(asleep.map((client) => client.inbox))}`);
    // What this test is for: the request was the first event of a leader started afresh.
    assert.ok(instance && asleepInstance && instance !== asleepInstance, `the room was not evicted: the same instance ${instance} answered`);
    for (const client of asleep) assert.deepEqual(client.inbox.splice(0), ["wake up"], client.id);
  });

  /** The `[secure] <handler> <room> <id>` lines of a watched room so far, as `<handler> <id>`. */
  function watched(room: string): string[] {
    const plain = server().output().replace(/\x1b\[[0-9;]*m/g, "");
    return [...plain.matchAll(/\[secure\] (\w+) (\S+) (\S+)/g)].filter((match) => match[2] === room).map((match) => `${match[1]} ${match[3]}`);
  }

  /** The `ran 503 <idempotency-key>` broadcasts a client received since the last call. */
  async function ran503(client: Client): Promise<string[]> {
    await until(() => client.inbox.length > 0, 10_000);
    await sleep(SETTLE_MS * 3);
    const ran = client.inbox.splice(0);
    assert.ok(ran.every((text) => /^ran 503 \S+$/.test(text)), JSON.stringify(ran));
    return ran;
  }

  /** A socket straight to the class, greeted. */
  async function directClient(room: string, id: string): Promise<Client> {
    const socket = await opened(`ws://${host()}/parties/${PARTY}/${room}?token=good&_pk=${id}`);
    const inbox: string[] = [];
    socket.on("message", (data) => inbox.push(String(data)));
    await until(() => inbox.length > 0, 10_000);
    assert.deepEqual(inbox.splice(0), [`hello ${id} alice`]);
    return { id, key: "", inbox, say: (text) => socket.send(text), close: () => socket.close() };
  }

  /** A handshake with extra headers: `refused <status>`, or `opened: <first message>` (then closed). */
  function wsAttemptWith(url: string, headers: Record<string, string>): Promise<string> {
    return new Promise((resolve) => {
      const socket = new WebSocket(url, { headers });
      const timer = setTimeout(() => {
        socket.terminate();
        resolve("opened: (nothing within 5 s)");
      }, 5_000);
      const done = (outcome: string) => {
        clearTimeout(timer);
        socket.terminate();
        resolve(outcome);
      };
      socket.on("message", (data) => done(`opened: ${String(data)}`));
      socket.on("close", (code) => done(`opened, closed ${code}`));
      socket.on("unexpected-response", (_request, response) => {
        response.resume();
        done(`refused ${response.statusCode}`);
      });
      socket.on("error", (error) => done(`error ${error.message}`));
    });
  }
});

/**
 * `opened` if the upgrade succeeded, `refused <status>` if answered without one, else the error.
 * A handshake wrangler dev's proxy left unanswered (as the 503 in post) is tried once more.
 */
async function tryWebSocket(url: string): Promise<string> {
  const first = await handshakeOutcome(url, 5_000);
  return first === "no answer" ? handshakeOutcome(url, 5_000) : first;
}

/**
 * A socket that claims to be a shard's link: it sends `frames` once open and reports what came
 * back within 3 s and whether the server closed it, or the status it was refused with.
 */
function forgeLink(url: string, headers: Record<string, string>, frames: object[]): Promise<{ refused: number } | { received: string[]; closed: number | "closing" | undefined } | { error: string }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers });
    const received: string[] = [];
    let settled = false;
    const finish = (outcome: Awaited<ReturnType<typeof forgeLink>>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish({ received, closed: socket.readyState === WebSocket.OPEN ? undefined : "closing" }), 3_000);
    socket.on("open", () => {
      for (const frame of frames) socket.send(JSON.stringify(frame));
    });
    socket.on("message", (data) => received.push(String(data)));
    socket.on("close", (code) => finish({ received, closed: code }));
    socket.on("unexpected-response", (_request, response) => {
      response.resume();
      finish({ refused: response.statusCode ?? 0 });
    });
    socket.on("error", (error) => finish({ error: error.message }));
  });
}

import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import type { DevServer } from "../../src/infra/dev-process.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";
import { startPartykitDev } from "../../src/infra/partykit-dev.js";
import { startWranglerDev } from "../../src/infra/wrangler-dev.js";
import { FIXTURES, PARTYKIT_BIN, REPO, copyProject, runCli } from "./cli.js";
import { pastProxyRestarts, rawRequest, writeChunked, wsAttempt } from "./raw-http.js";
import { tempDir } from "./temp.js";
import { pool, sleep, sum, until } from "./wait.js";

/**
 * The attack suite of both platforms (test/live/security-live.test.ts on partykit dev,
 * security-partyserver-live.test.ts on wrangler dev), as the differential suite shares its
 * scripts: each attack both platforms face is written once here and runs on each, with what
 * differs between them in SECURITY_PLATFORMS. Each file adds the attacks of its own platform.
 */

export const SHARDS = 4;
/** Long enough for a message that was going to arrive to have arrived. */
export const SETTLE_MS = 300;
export const MIB = 1024 * 1024;
export const SECRET = "s3cret";
/** The app's auth for a request (`onBeforeRequest` lets it through). */
export const AUTH = { authorization: "Bearer good" };
/** A keyed write's answer when it ran. */
export const WRITTEN = { status: 200, body: "ok" };

export type RoutedSocket = { url: string; close(): void; addEventListener(type: "message", listener: (event: { data: unknown }) => void): void };
export type Join = (options: { host: string; room: string; id: string; WebSocket: unknown }) => { socket: RoutedSocket; say(text: string): void };
export type Client = { id: string; key: string; inbox: string[]; say(text: string): void; close(): void };
export type Answer = { status: number; body: string };

export type Platform = "partykit" | "partyserver";

/**
 * What differs between the platforms for the attacks: the fixture and how it is booted, the URL
 * names, and what its app answers. Both fixtures guard sockets (`token=good`) and requests
 * (`Bearer good`) with hooks, greet each socket, broadcast request bodies and `<sender>: <message>`,
 * and fail to start, with a secret in their error, in rooms named `boom…`; each app/client.ts is a
 * partysocket client that migrate rewrites to connect through the router and write with sendViaRouter.
 */
export interface SecurityPlatform {
  /** The dev server the suite runs on. */
  devServer: string;
  /** A copy of the fixture project, set up with `init --yes --shards 4` plus `initFlags`, then `migrate --yes`. */
  copy(): string;
  initFlags: string[];
  /** What the suite changes in the project after migrate, before the server starts. */
  prepare?(project: string): void;
  start(project: string): Promise<DevServer>;
  /** URL names: the router's and the sharded party's. */
  router: string;
  party: string;
  /** The first message a socket of `id` gets. */
  greeting(id: string): string;
  /** How long a greeting may take (wrangler dev starts a room more slowly). */
  greetedWithinMs: number;
  /** The app's answer to a plain request its auth let through. */
  requestAnswer: Answer;
  /** How many keyed writes go to another room before an idempotency key is repeated, and how many at once. */
  elsewhere: { writes: number; width: number };
}

export const SECURITY_PLATFORMS: Record<Platform, SecurityPlatform> = {
  // test/fixtures/projects/secure: the party's static hooks; it greets `hello <id>`, answers `ok`.
  partykit: {
    devServer: "partykit dev",
    copy: () => copyProject("secure"),
    initFlags: [],
    start: (cwd) => startPartykitDev({ cwd, bin: PARTYKIT_BIN }),
    router: "router",
    party: "main",
    greeting: (id) => `hello ${id}`,
    greetedWithinMs: 10_000,
    requestAnswer: { status: 200, body: "ok" },
    elsewhere: { writes: 3_000, width: 48 },
  },
  // test/fixtures/partyserver/secure: the Worker's hooks pass on `x-user: alice` (sockets) and
  // `alice-http` (requests); the class greets `hello <id> <x-user>` and answers `ok <x-user>`. The
  // runtime is vendored (src/party-shard-runtime/), so the modules as copied run as the package
  // does. After migrate the Worker gets a second, plain routePartykitRequest under `/legacy/` with
  // no hooks at all: the kind of route a Worker keeps for another purpose. It also hands
  // `/forward/<room>` to the class itself (getServerByName(…).fetch(request)), as partyserver's
  // README shows.
  partyserver: {
    devServer: "wrangler dev",
    copy() {
      const project = tempDir("partyserver-secure");
      cpSync(path.join(FIXTURES, "partyserver", "secure"), project, { recursive: true });
      linkNodeModules(project, REPO);
      return project;
    },
    initFlags: ["--vendor"],
    prepare(project) {
      const main = path.join(project, "src", "server.ts");
      const migrated = readFileSync(main, "utf8");
      const routed = "(await routePartyShard(request, env, hooks)) ??";
      assert.ok(migrated.includes(routed), migrated);
      writeFileSync(main, `import { routePartykitRequest } from "partyserver";\n` + migrated.replace(routed, `${routed} (await routePartykitRequest(request, env, { prefix: "legacy" })) ??`));
    },
    start: (cwd) => startWranglerDev({ cwd }),
    router: "party-shard-router",
    party: "secure",
    greeting: (id) => `hello ${id} alice`,
    greetedWithinMs: 15_000,
    requestAnswer: { status: 200, body: "ok alice-http" },
    elsewhere: { writes: 500, width: 24 },
  },
};

/** What a platform's own attacks get: its running app and the helpers the shared attacks use. */
export type SecuritySuite = ReturnType<typeof securitySuite>;

/**
 * One platform's attack suite: its app set up and booted once, the attacks both platforms share,
 * the platform's own (`more`), and last the body limits (wrangler dev's proxy does not recover
 * well from the bodies it is left with: the next requests on its connections were answered 503
 * "Your worker restarted mid-request"). Each attack has its own room.
 */
export function describeSecurity(title: string, platform: Platform, more: (suite: SecuritySuite) => void): void {
  describe(title, () => {
    const suite = securitySuite(SECURITY_PLATFORMS[platform]);
    before(() => suite.boot());
    after(() => suite.shutDown());
    sharedAttacks(suite);
    more(suite);
    bodyLimits(suite);
  });
}

function securitySuite(platform: SecurityPlatform) {
  let server: DevServer | undefined;
  let project = "";
  let join: Join | undefined;
  /** Run after the suite: each socket a test opened is closed there. */
  const cleanups: (() => void)[] = [];
  const host = () => server!.host;
  const routed = (room: string) => `/parties/${platform.router}/${room}`;

  async function boot(): Promise<void> {
    project = platform.copy();
    for (const args of [["init", "--yes", "--shards", String(SHARDS), "--shard-target", "1", ...platform.initFlags], ["migrate", "--yes"]]) {
      const result = await runCli(args, project);
      assert.equal(result.exitCode, 0, result.stderr);
    }
    platform.prepare?.(project);
    server = await platform.start(project);
    ({ join } = (await import(path.join(project, "app", "client.ts"))) as { join: Join });
  }

  async function shutDown(): Promise<void> {
    for (const cleanup of cleanups) cleanup();
    if (process.env.SECURITY_DUMP && server) writeFileSync(process.env.SECURITY_DUMP, server.output());
    await server?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
  }

  /** Clients of the migrated app/client.ts, each greeted, with the write key in its URL. */
  async function clients(room: string, ids: string[]): Promise<Client[]> {
    const joined = ids.map((id) => {
      const { socket, say } = join!({ host: host(), room, id, WebSocket });
      const inbox: string[] = [];
      socket.addEventListener("message", (event) => inbox.push(String(event.data)));
      cleanups.push(() => socket.close());
      return { id, socket, inbox, say, close: () => socket.close() };
    });
    await until(() => joined.every((client) => client.inbox.includes(platform.greeting(client.id))), platform.greetedWithinMs);
    for (const client of joined) assert.deepEqual(client.inbox.splice(0), [platform.greeting(client.id)], `${room}: ${client.id}`);
    return joined.map(({ socket, ...client }) => ({ ...client, key: new URL(socket.url).searchParams.get("_psk") ?? "" }));
  }

  /** Every client receives exactly `expected` (in order) since the last call, and nothing more. */
  async function expectInboxes(group: Client[], expected: string[]) {
    await until(() => group.every((client) => client.inbox.length >= expected.length), 10_000);
    await sleep(SETTLE_MS);
    for (const client of group) assert.deepEqual(client.inbox.splice(0), expected, client.id);
  }

  async function opened(url: string): Promise<WebSocket> {
    // A handshake left unanswered fails with what the server said, not at the suite's timeout.
    const attempt = await wsAttempt(url, 30_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${platform.devServer} said:\n${server!.output().slice(-6_000)}`);
    });
    assert.ok(!attempt.refused, attempt.refused ? `${url.slice(0, 120)}: ${attempt.status} ${attempt.body}` : "");
    cleanups.push(() => attempt.socket.close());
    return attempt.socket;
  }

  /** How a handshake was refused, or "opened" (and closed again). */
  async function refusal(url: string): Promise<{ status: number; body: string } | "opened"> {
    const attempt = await wsAttempt(url);
    if (!attempt.refused) attempt.socket.close();
    return attempt.refused ? { status: attempt.status, body: attempt.body } : "opened";
  }

  /** The router's load view of `room`: the operator's, so only with the deploy's view token. */
  async function load(room: string): Promise<number[]> {
    const view = (await (await fetch(`http://${host()}${routed(room)}`, { headers: { "x-party-shard-view-token": server!.viewToken } })).json()) as { load: number[] };
    return view.load;
  }

  /** A POST, past wrangler dev's proxy's own 503 (pastProxyRestarts): a write asked again carries the same idempotency key, so it still runs once at most. */
  function post(pathname: string, headers: Record<string, string>, body: string): Promise<Answer> {
    return pastProxyRestarts(async () => {
      const res = await fetch(`http://${host()}${pathname}`, { method: "POST", headers, body });
      return { status: res.status, body: await res.text() };
    });
  }

  /** A connection's keyed write through the router, as sendViaRouter sends it. */
  function write(room: string, client: { id: string; key: string }, body: string, headers: Record<string, string> = {}): Promise<Answer> {
    const keyed = { "x-party-shard-connection": encodeURIComponent(client.id), "x-party-shard-key": client.key, "idempotency-key": randomUUID() };
    return post(routed(room), { "content-type": "text/plain;charset=UTF-8", ...keyed, ...headers }, body);
  }

  /**
   * A chunked POST written by hand; undefined when the server reset the connection before its
   * answer was read. Past wrangler dev's proxy's own 503 (pastProxyRestarts).
   */
  function postChunked(pathname: string, headers: string[], bytes: number) {
    const head = [`POST ${pathname} HTTP/1.1`, `Host: ${host()}`, "Content-Type: text/plain", ...headers, "Connection: close"];
    // The server may answer 413 and close while the body is still arriving; on a busy machine the
    // reset can come before the answer is read: an answer lost, not a body taken (the inboxes say so).
    return pastProxyRestarts(() =>
      rawRequest(host(), head.join("\r\n"), (socket) => writeChunked(socket, bytes)).catch((error: Error) => {
        if (!/no HTTP answer: ""/.test(error.message)) throw error;
        return undefined;
      }),
    );
  }

  return {
    platform,
    boot,
    shutDown,
    host,
    server: () => server!,
    join: () => join!,
    cleanups,
    routed,
    clients,
    expectInboxes,
    opened,
    refusal,
    load,
    post,
    write,
    postChunked,
  };
}

/** The attacks both platforms face, each the same on both but for SECURITY_PLATFORMS' differences. */
function sharedAttacks(suite: SecuritySuite): void {
  const { platform, host, cleanups, routed, clients, expectInboxes, opened, refusal, load, post, write } = suite;
  const socketUrl = (room: string, query: string) => `ws://${host()}${routed(room)}?${query}`;

  it("control: keyed writes from partysocket clients reach every client exactly once, in order per sender", async () => {
    const group = await clients("control", ["c-1", "c-2", "c-3"]);
    const rounds = [0, 1, 2, 3, 4];
    for (const round of rounds) for (const client of group) client.say(`m${round}`);
    const expected = group.flatMap((client) => rounds.map((round) => `${client.id}: m${round}`));
    await until(() => group.every((client) => client.inbox.length >= expected.length), 10_000);
    await sleep(SETTLE_MS);
    for (const client of group) {
      assert.deepEqual([...client.inbox].sort(), [...expected].sort(), client.id);
      for (const sender of group) {
        const fromSender = client.inbox.filter((text) => text.startsWith(`${sender.id}: `));
        assert.deepEqual(fromSender, expected.filter((text) => text.startsWith(`${sender.id}: `)), `${client.id} from ${sender.id}`);
      }
    }
    // The sockets really sit on shards.
    assert.equal(sum(await load("control")), group.length);
  });

  it("runs no POST as another client: a wrong key gets the answer an unknown id gets (425), no key makes a plain request that needs the app's auth", async () => {
    const [victim, witness] = await clients("spoof", ["victim-3", "witness-3"]);
    const named = { "x-party-shard-connection": encodeURIComponent(victim!.id) };
    const wrongKey = await write("spoof", { id: victim!.id, key: "0".repeat(32) }, "wrong key", AUTH);
    assert.equal(wrongKey.status, 425, wrongKey.body);
    const witnessKey = await write("spoof", { id: victim!.id, key: witness!.key }, "witness's key");
    assert.deepEqual(witnessKey, wrongKey);
    // No presence oracle: an id nobody holds gets the very same answer.
    assert.deepEqual(await write("spoof", { id: "nobody-3", key: witness!.key }, "unknown id"), wrongKey);
    assert.deepEqual(await post(routed("spoof"), named, "no key"), { status: 403, body: "forbidden" });
    assert.deepEqual(await post(routed("spoof"), { ...named, ...AUTH }, "a plain request"), platform.requestAnswer);
    await expectInboxes([victim!, witness!], ["a plain request"]);
    assert.deepEqual(await write("spoof", victim!, "mine"), WRITTEN);
    await expectInboxes([victim!, witness!], ["victim-3: mine"]);
  });

  const { writes, width } = platform.elsewhere;
  it(`remembers idempotency keys per room: no collision across rooms, a repeat runs once after ${writes.toLocaleString("en")} writes elsewhere, another body gets 409`, async () => {
    const [a] = await clients("dup-a", ["writer-a"]);
    const [b] = await clients("dup-b", ["writer-b"]);
    const shared = { "idempotency-key": "shared-key-1" };
    assert.deepEqual(await write("dup-a", a!, "first", shared), WRITTEN);
    assert.deepEqual(await write("dup-b", b!, "first", shared), WRITTEN);
    await expectInboxes([a!], ["writer-a: first"]);
    await expectInboxes([b!], ["writer-b: first"]);

    const statuses = await pool(writes, width, (i) => write("dup-b", b!, `n${i}`).then((answer) => answer.status));
    assert.deepEqual(statuses.filter((status) => status !== 200), []);
    await until(() => b!.inbox.length >= writes, 15_000);
    assert.equal(new Set(b!.inbox.splice(0)).size, writes);

    assert.deepEqual(await write("dup-a", a!, "first", shared), WRITTEN);
    const changed = await write("dup-a", a!, "changed", shared);
    assert.equal(changed.status, 409, changed.body);
    await expectInboxes([a!, b!], []);
  });

  it("leaks no error text: a write to, a placement in, or the load view of a room whose party fails to start never carries the secret", async (t) => {
    // A room fresh for each: once anything reached a room whose onStart threw, PartyKit serves it.
    const key = randomBytes(16).toString("hex");
    const written = await write("boom-write", { id: "boom-client", key }, "hi");
    // A failure or a refusal, never a 2xx.
    assert.ok(written.status >= 400, `${written.status} ${written.body}`);
    assert.ok(!written.body.includes(SECRET), written.body);
    const placed = await wsAttempt(socketUrl("boom-place", `token=good&_pk=boom-client&_psk=${key}`));
    const closed = placed.refused ? undefined : await placed.closedByServer(SETTLE_MS * 10);
    const placement = placed.refused ? `refused ${placed.status} ${placed.body}` : `opened, received ${JSON.stringify(placed.inbox)}, closed ${JSON.stringify(closed)}`;
    if (!placed.refused) placed.socket.terminate();
    assert.ok(!placement.includes(SECRET), placement);
    // As the platform closes a direct socket whose room fails to start, without the error.
    assert.equal(closed?.code, 1011, placement);
    const view = await fetch(`http://${host()}${routed("boom-place")}`, { headers: { "x-party-shard-view-token": suite.server().viewToken } }).then(async (res) => `${res.status} ${await res.text()}`);
    assert.ok(!view.includes(SECRET), view);
    // A plain request is the app's own business, as on a direct request: reported, not judged.
    const request = await post(routed("boom-request"), AUTH, "hi");
    const direct = await post(`/parties/${platform.party}/boom-direct`, AUTH, "hi");
    const shown = (answer: Answer) => `${answer.status} ${answer.body.includes(SECRET) ? "(carries the secret)" : answer.body.slice(0, 80)}`;
    t.diagnostic(`write: ${written.status} ${written.body}; placement: ${placement}; load view: ${view.slice(0, 120)}`);
    t.diagnostic(`room request through the router: ${shown(request)}; direct: ${shown(direct)}`);
  });

  it("bounds sizes: a 60,000-char _pk, a 16,000-char Idempotency-Key, a 200-char connection id or key get 400", async (t) => {
    const [client] = await clients("sizes", ["sizer-1"]);
    const longPk = await refusal(socketUrl("sizes", `token=good&_pk=${"p".repeat(60_000)}`));
    t.diagnostic(`60,000-char _pk: ${JSON.stringify(longPk).slice(0, 120)}`);
    assert.ok(longPk !== "opened" && longPk.status === 400 && /at most 128/.test(longPk.body), JSON.stringify(longPk).slice(0, 200));
    const longKey = "i".repeat(16_000);
    const longWriteKey = await write("sizes", client!, "long idempotency key", { "idempotency-key": longKey });
    assert.equal(longWriteKey.status, 400, longWriteKey.body);
    const longId = await write("sizes", { id: "c".repeat(200), key: client!.key }, "long id");
    assert.equal(longId.status, 400, longId.body);
    const longConnectionKey = await write("sizes", { id: client!.id, key: "k".repeat(200) }, "long key");
    assert.equal(longConnectionKey.status, 400, longConnectionKey.body);
    await expectInboxes([client!], []);
    assert.deepEqual(await write("sizes", client!, "fits"), WRITTEN);
    await expectInboxes([client!], ["sizer-1: fits"]);
    // A plain request's Idempotency-Key is the app's to read: reported, not judged.
    const longRequestKey = await post(routed("sizes"), { ...AUTH, "idempotency-key": longKey }, "a room request");
    t.diagnostic(`a room request with a 16,000-char Idempotency-Key: ${longRequestKey.status} ${longRequestKey.body.slice(0, 80)}`);
  });

  it("keeps a connection's id to its key: another key is closed (1008) or refused, the same key reconnects", async (t) => {
    const [victim, witness] = await clients("reuse", ["victim-7", "witness-7"]);
    const attacker = await wsAttempt(socketUrl("reuse", `token=good&_pk=victim-7&_psk=${"a".repeat(32)}`));
    if (attacker.refused) {
      t.diagnostic(`attacker refused: ${attacker.status} ${attacker.body}`);
      assert.ok(attacker.status >= 400 && attacker.status < 500, `${attacker.status} ${attacker.body}`);
    } else {
      cleanups.push(() => attacker.socket.terminate());
      const closed = await attacker.closedByServer(3_000);
      t.diagnostic(`attacker opened, then closed ${JSON.stringify(closed)}; it received ${JSON.stringify(attacker.inbox)}`);
      assert.equal(closed?.code, 1008, `the attacker's socket: ${JSON.stringify(closed)}`);
      assert.deepEqual(attacker.inbox, []);
    }
    const asAttacker = await write("reuse", { id: victim!.id, key: "a".repeat(32) }, "as the attacker");
    assert.equal(asAttacker.status, 425, asAttacker.body);
    assert.deepEqual(await post(routed("reuse"), AUTH, "after the attack"), platform.requestAnswer);
    await expectInboxes([victim!, witness!], ["after the attack"]);
    assert.deepEqual(await write("reuse", victim!, "still me"), WRITTEN);
    await expectInboxes([victim!, witness!], ["victim-7: still me"]);

    // A reconnect: the old socket goes, a new one comes with the same id and key.
    victim!.close();
    // Its own inbox from the handshake on: the greeting can come in the same read as the 101.
    const attempt = await wsAttempt(socketUrl("reuse", `token=good&_pk=victim-7&_psk=${victim!.key}`));
    assert.ok(!attempt.refused, attempt.refused ? `${attempt.status} ${attempt.body}` : "");
    cleanups.push(() => attempt.socket.close());
    const { socket: back, inbox } = attempt;
    const greeting = platform.greeting("victim-7");
    await until(() => inbox.includes(greeting), 5_000);
    assert.deepEqual(inbox, [greeting], `${platform.devServer} said:\n${suite.server().output().slice(-3_000)}`);
    assert.deepEqual(await write("reuse", victim!, "back again"), WRITTEN);
    await expectInboxes([witness!], ["victim-7: back again"]);
    assert.deepEqual(inbox, [greeting, "victim-7: back again"]);
    assert.equal(back.readyState, WebSocket.OPEN);
    back.close();
  });

  it("spreads sockets with an empty _pk over the shards", async () => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => opened(socketUrl("anon", "token=good&_pk="))));
    try {
      await until(async () => sum(await load("anon")) === 20, 5_000);
      const view = await load("anon");
      assert.equal(sum(view), 20, JSON.stringify(view));
      assert.ok(view.filter((count) => count > 0).length >= 3, JSON.stringify(view));
    } finally {
      for (const socket of sockets) socket.close();
    }
  });

  it("answers HEAD with 200", async () => {
    const res = await fetch(`http://${host()}${routed("head-room")}`, { method: "HEAD", headers: AUTH });
    assert.equal(res.status, 200);
  });

  it("lets a socket whose id is outside Latin-1 write with sendViaRouter; everyone receives it once", async () => {
    const [snow, witness] = await clients("unicode", ["ünï-☃-1", "witness-9"]);
    snow!.say("snow");
    await expectInboxes([snow!, witness!], ["ünï-☃-1: snow"]);
  });
}

/** Last in each suite (see describeSecurity): the body limits. */
function bodyLimits({ clients, expectInboxes, post, postChunked, routed, write }: SecuritySuite): void {
  it("limits a body by the bytes it reads: a 1 MiB + 1 write or request, a chunked 2 MiB (declaring 10 bytes, or nothing), get 413", async (t) => {
    const group = await clients("body", ["b-1", "b-2"]);
    const big = await write("body", group[0]!, "x".repeat(MIB + 1));
    assert.equal(big.status, 413, big.body);
    const bigRequest = await post(routed("body"), AUTH, "y".repeat(MIB + 1));
    assert.equal(bigRequest.status, 413, bigRequest.body);
    // The same path takes a write of ordinary size.
    assert.deepEqual(await write("body", group[0]!, "small"), WRITTEN);
    await expectInboxes(group, ["b-1: small"]);
    // The router answers 413 and closes while the body is still arriving. The bytes it never read
    // make the kernel reset the connection, and on a busy machine the reset can arrive before the
    // client has read the 413: an answer lost in transit, not a body accepted (the inboxes below
    // prove nothing ran). Any answer that does arrive must be the 413.
    const lying = await postChunked(routed("body"), ["Authorization: Bearer good", "Content-Length: 10", "Transfer-Encoding: chunked"], 2 * MIB);
    if (lying) assert.equal(lying.status, 413, `${lying.head}\n${lying.body}`);
    const chunked = await postChunked(routed("body"), ["Authorization: Bearer good", "Transfer-Encoding: chunked"], 2 * MIB);
    if (chunked) assert.equal(chunked.status, 413, `${chunked.head}\n${chunked.body}`);
    t.diagnostic(`chunked with Content-Length: 10: ${lying ? lying.status : "reset before the answer"}; chunked: ${chunked ? chunked.status : "reset before the answer"}`);
    // Nothing of either ran: the open sockets would have had the bodies.
    await expectInboxes(group, []);
  });
}

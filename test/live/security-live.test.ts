import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { startPartykitDev, type PartykitDev } from "../../src/infra/partykit-dev.js";
import { PARTYKIT_BIN, REPO, copyProject, runCli } from "../helpers/cli.js";
import { rawRequest, writeChunked, wsAttempt } from "../helpers/raw-http.js";
import { pool, sleep, sum, until } from "../helpers/wait.js";
import { MIB, SECRET, SETTLE_MS, SHARDS, keyedWritesReachEveryone, securityHelpers, type Answer, type Join } from "../helpers/security.js";

const OK = { status: 200, body: "ok" };

// The fixture party guards sockets (`token=good`) and requests (`Bearer good`) with static hooks,
// greets each socket with `hello <id>`, broadcasts request bodies and `<sender>: <message>`, and
// fails to start, with a secret in its error, in rooms named `boom…`. Its app/client.ts is a
// partysocket client that migrate rewrites to connect through the router and write with
// sendViaRouter. Each attack has its own room.
describe("attacks on the router of a party with its own auth, after init + migrate, on one partykit dev", () => {
  let server: PartykitDev | undefined;
  let project = "";
  let join: Join;
  const cleanups: (() => void)[] = [];
  const host = () => server!.host;
  const { clients, expectInboxes, opened, refusal, load } = securityHelpers({
    host,
    join: () => join,
    router: "router",
    viewToken: () => server!.viewToken,
    greeting: (id) => `hello ${id}`,
    greetedWithinMs: 10_000,
    cleanups,
  });

  before(async () => {
    project = copyProject("secure");
    for (const args of [["init", "--yes", "--shards", String(SHARDS)], ["migrate", "--yes"]]) {
      const result = await runCli(args, project);
      assert.equal(result.exitCode, 0, result.stderr);
    }
    server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN });
    ({ join } = (await import(path.join(project, "app", "client.ts"))) as { join: Join });
  });
  after(async () => {
    for (const cleanup of cleanups) cleanup();
    await server?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("control: keyed writes from partysocket clients reach every client exactly once, in order per sender", async () => {
    await keyedWritesReachEveryone({ clients, load });
  });

  it("1. limits a body by the bytes it reads: a chunked 2 MiB declaring 10 bytes, and a 1 MiB + 1 write, get 413", async () => {
    const group = await clients("body", ["b-1", "b-2"]);
    const head = ["POST /parties/router/body HTTP/1.1", `Host: ${host()}`, "Authorization: Bearer good", "Content-Type: text/plain", "Content-Length: 10", "Transfer-Encoding: chunked", "Connection: close"];
    // The router answers 413 and closes while the body is still arriving. The bytes it never read
    // make the kernel reset the connection, and on a busy machine the reset can arrive before the
    // client has read the 413: an answer lost in transit, not a body accepted (the inboxes below
    // prove nothing ran). Any answer that does arrive must be the 413.
    const smuggled = await rawRequest(host(), head.join("\r\n"), (socket) => writeChunked(socket, 2 * MIB)).catch((error: Error) => {
      if (!/no HTTP answer: ""/.test(error.message)) throw error;
      return undefined;
    });
    if (smuggled) assert.equal(smuggled.status, 413, `${smuggled.head}\n${smuggled.body}`);
    const big = await write("body", group[0]!, "x".repeat(MIB + 1));
    assert.equal(big.status, 413, big.body);
    await expectInboxes(group, []);
    // The same path takes a write of ordinary size.
    assert.deepEqual(await write("body", group[0]!, "small"), OK);
    await expectInboxes(group, ["b-1: small"]);
  });

  // partykit dev hands a POST carrying `Upgrade: websocket` to onBeforeConnect as a GET, so the
  // router cannot refuse it by method there (deployed, it answers 400); such a request is never a
  // connection that counts, and leaves no weight on placement.
  it("2. counts no phantom load: upgrade POSTs never count, a refused handshake counts nothing, real sockets count while open", async () => {
    const room = "phantom";
    const upgrades = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const head = [`POST /parties/router/${room}?token=good&_pk=phantom-${i} HTTP/1.1`, `Host: ${host()}`, "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "Content-Length: 0"];
        return rawRequest(host(), head.join("\r\n"));
      }),
    );
    await sleep(SETTLE_MS);
    assert.deepEqual(await load(room), Array(SHARDS).fill(0));
    assert.deepEqual(await refusal(`ws://${host()}/parties/router/${room}?_pk=no-token`), { status: 401, body: "no token" });
    await sleep(SETTLE_MS);
    assert.deepEqual(await load(room), Array(SHARDS).fill(0));

    const sockets = await Promise.all([0, 1, 2, 3].map((i) => opened(`ws://${host()}/parties/router/${room}?token=good&_pk=load-${i}`)));
    await until(async () => sum(await load(room)) === 4, 5_000);
    // One a shard: nothing the upgrade POSTs left behind weighs on placement.
    assert.deepEqual(await load(room), Array(SHARDS).fill(1));
    for (const socket of sockets) socket.close();
    await until(async () => sum(await load(room)) === 0, 5_000);
    assert.deepEqual(await load(room), Array(SHARDS).fill(0));
    // Last, so the load is checked whatever the status: never a switch to a counted socket.
    for (const answer of upgrades) assert.ok(answer.status === 400 || answer.status >= 500, `${answer.head}\n${answer.body}`);
  });

  it("3. runs no POST as another client: a wrong key gets the answer an unknown id gets (425), no key makes a plain request that needs the party's auth", async () => {
    const [victim, witness] = await clients("spoof", ["victim-3", "witness-3"]);
    const named = { "x-party-shard-connection": encodeURIComponent(victim!.id) };
    const wrongKey = await write("spoof", { id: victim!.id, key: "0".repeat(32) }, "wrong key", { authorization: "Bearer good" });
    assert.equal(wrongKey.status, 425, wrongKey.body);
    const witnessKey = await write("spoof", { id: victim!.id, key: witness!.key }, "witness's key");
    assert.deepEqual(witnessKey, wrongKey);
    // No presence oracle: an id nobody holds gets the very same answer.
    assert.deepEqual(await write("spoof", { id: "nobody-3", key: witness!.key }, "unknown id"), wrongKey);
    assert.deepEqual(await post("spoof", named, "no key"), { status: 403, body: "forbidden" });
    assert.deepEqual(await post("spoof", { ...named, authorization: "Bearer good" }, "a plain request"), OK);
    await expectInboxes([victim!, witness!], ["a plain request"]);
  });

  it("4. remembers idempotency keys per room: no collision across rooms, a repeat runs once after 3,000 writes elsewhere, another body gets 409", async () => {
    const [a] = await clients("dup-a", ["writer-a"]);
    const [b] = await clients("dup-b", ["writer-b"]);
    const shared = { "idempotency-key": "shared-key-1" };
    assert.deepEqual(await write("dup-a", a!, "first", shared), OK);
    assert.deepEqual(await write("dup-b", b!, "first", shared), OK);
    await expectInboxes([a!], ["writer-a: first"]);
    await expectInboxes([b!], ["writer-b: first"]);

    const statuses = await pool(3_000, 48, (i) => write("dup-b", b!, `n${i}`).then((answer) => answer.status));
    assert.deepEqual(statuses.filter((status) => status !== 200), []);
    await until(() => b!.inbox.length >= 3_000, 15_000);
    assert.equal(new Set(b!.inbox).size, 3_000);

    assert.deepEqual(await write("dup-a", a!, "first", shared), OK);
    const changed = await write("dup-a", a!, "changed", shared);
    assert.equal(changed.status, 409, changed.body);
    await expectInboxes([a!], []);
  });

  it("5. leaks no error text: a write to, or a placement in, a room whose party fails to start never carries the secret", async (t) => {
    // A room fresh for each: once anything reached a room whose onStart threw, PartyKit serves it.
    const key = randomBytes(16).toString("hex");
    const written = await write("boom-write", { id: "boom-client", key }, "hi");
    // A failure or a refusal, never a 2xx.
    assert.ok(written.status >= 400, `${written.status} ${written.body}`);
    assert.ok(!written.body.includes(SECRET), written.body);
    const placed = await wsAttempt(`ws://${host()}/parties/router/boom-place?token=good&_pk=boom-client&_psk=${key}`);
    const closed = placed.refused ? undefined : await placed.closedByServer(SETTLE_MS * 3);
    const placement = placed.refused ? `refused ${placed.status} ${placed.body}` : `opened, received ${JSON.stringify(placed.inbox)}, closed ${JSON.stringify(closed)}`;
    if (!placed.refused) placed.socket.terminate();
    assert.ok(!placement.includes(SECRET), placement);
    assert.ok(!(await fetch(`http://${host()}/parties/router/boom-place`, { headers: { "x-party-shard-view-token": server!.viewToken } }).then((res) => res.text())).includes(SECRET));
    // A plain request is the party's own business, as on a direct request: reported, not judged.
    const request = await post("boom-request", { authorization: "Bearer good" }, "hi");
    t.diagnostic(`write: ${written.status} ${written.body}; placement: ${placement}; room request: ${request.status} ${request.body.includes(SECRET) ? "(carries the secret)" : request.body}`);
  });

  it("6. spreads sockets with an empty _pk over the shards", async () => {
    const sockets = await Promise.all(Array.from({ length: 20 }, () => opened(`ws://${host()}/parties/router/anon?token=good&_pk=`)));
    try {
      await until(async () => sum(await load("anon")) === 20, 5_000);
      const view = await load("anon");
      assert.equal(sum(view), 20, JSON.stringify(view));
      assert.ok(view.filter((count) => count > 0).length >= 3, JSON.stringify(view));
    } finally {
      for (const socket of sockets) socket.close();
    }
  });

  it("7. keeps a connection's id to its key: another key is closed (1008) or refused, the same key reconnects", async (t) => {
    const [victim, witness] = await clients("reuse", ["victim-7", "witness-7"]);
    const attacker = await wsAttempt(`ws://${host()}/parties/router/reuse?token=good&_pk=victim-7&_psk=${"a".repeat(32)}`);
    if (attacker.refused) {
      t.diagnostic(`attacker refused: ${attacker.status} ${attacker.body}`);
      assert.ok(attacker.status >= 400 && attacker.status < 500, `${attacker.status} ${attacker.body}`);
    } else {
      cleanups.push(() => attacker.socket.terminate());
      const closed = await attacker.closedByServer(3_000);
      t.diagnostic(`attacker opened, then closed ${JSON.stringify(closed)}; it received ${JSON.stringify(attacker.inbox)}`);
      assert.equal(closed?.code, 1008, `the attacker's socket: ${JSON.stringify(closed)}`);
    }
    const asAttacker = await write("reuse", { id: victim!.id, key: "a".repeat(32) }, "as the attacker");
    assert.equal(asAttacker.status, 425, asAttacker.body);
    assert.deepEqual(await post("reuse", { authorization: "Bearer good" }, "after the attack"), OK);
    await expectInboxes([victim!, witness!], ["after the attack"]);
    assert.deepEqual(await write("reuse", victim!, "still me"), OK);
    await expectInboxes([victim!, witness!], ["victim-7: still me"]);

    // A reconnect: the old socket goes, a new one comes with the same id and key.
    victim!.close();
    // Its own inbox from the handshake on: the greeting can come in the same read as the 101.
    const attempt = await wsAttempt(`ws://${host()}/parties/router/reuse?token=good&_pk=victim-7&_psk=${victim!.key}`);
    assert.ok(!attempt.refused, attempt.refused ? `${attempt.status} ${attempt.body}` : "");
    cleanups.push(() => attempt.socket.close());
    const { socket: back, inbox } = attempt;
    await until(() => inbox.includes("hello victim-7"), 5_000);
    assert.deepEqual(inbox, ["hello victim-7"], `partykit dev said:\n${server!.output().slice(-3_000)}`);
    assert.deepEqual(await write("reuse", victim!, "back again"), OK);
    await expectInboxes([witness!], ["victim-7: back again"]);
    assert.deepEqual(inbox, ["hello victim-7", "victim-7: back again"]);
    assert.equal(back.readyState, WebSocket.OPEN);
    back.close();
  });

  it("8. bounds sizes: a 60,000-char _pk, a 16,000-char Idempotency-Key, a 200-char connection id get 400", async (t) => {
    const [client] = await clients("sizes", ["sizer-8"]);
    const longPk = await refusal(`ws://${host()}/parties/router/sizes?token=good&_pk=${"p".repeat(60_000)}`);
    assert.equal(longPk === "opened" ? longPk : longPk.status, 400, JSON.stringify(longPk).slice(0, 200));
    const longKey = "i".repeat(16_000);
    const longWriteKey = await write("sizes", client!, "long idempotency key", { "idempotency-key": longKey });
    assert.equal(longWriteKey.status, 400, longWriteKey.body);
    const longId = await write("sizes", { id: "c".repeat(200), key: client!.key }, "long id");
    assert.equal(longId.status, 400, longId.body);
    await expectInboxes([client!], []);
    // A plain request's Idempotency-Key is the party's to read: reported, not judged.
    const longRequestKey = await post("sizes", { authorization: "Bearer good", "idempotency-key": longKey }, "a room request");
    t.diagnostic(`a room request with a 16,000-char Idempotency-Key: ${longRequestKey.status} ${longRequestKey.body}`);
  });

  it("answers HEAD with 200", async () => {
    const res = await fetch(`http://${host()}/parties/router/head-room`, { method: "HEAD", headers: { authorization: "Bearer good" } });
    assert.equal(res.status, 200);
  });

  it("lets a socket whose id is outside Latin-1 write with sendViaRouter; everyone receives it once", async () => {
    const [snow, witness] = await clients("unicode", ["ünï-☃-1", "witness-9"]);
    snow!.say("snow");
    await expectInboxes([snow!, witness!], ["ünï-☃-1: snow"]);
  });

  async function post(room: string, headers: Record<string, string>, body: string): Promise<Answer> {
    const res = await fetch(`http://${host()}/parties/router/${room}`, { method: "POST", headers, body });
    return { status: res.status, body: await res.text() };
  }

  /** A connection's keyed write, as sendViaRouter sends it. */
  function write(room: string, client: { id: string; key: string }, body: string, headers: Record<string, string> = {}): Promise<Answer> {
    const keyed = { "x-party-shard-connection": encodeURIComponent(client.id), "x-party-shard-key": client.key, "idempotency-key": randomUUID() };
    return post(room, { "content-type": "text/plain;charset=UTF-8", ...keyed, ...headers }, body);
  }
});

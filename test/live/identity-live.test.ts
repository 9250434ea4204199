import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import type { DevServer } from "../../src/infra/dev-process.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";
import { startPartykitDev } from "../../src/infra/partykit-dev.js";
import { startWranglerDev } from "../../src/infra/wrangler-dev.js";
import { FIXTURES, PARTYKIT_BIN, REPO, copyProject, runCli } from "../helpers/cli.js";
import { pastProxyRestarts, rawRequest, wsAttempt, type Attempt } from "../helpers/raw-http.js";
import { tempDir } from "../helpers/temp.js";
import { sleep, until } from "../helpers/wait.js";

/** Long enough for a message that was going to arrive to have arrived. */
const SETTLE_MS = 400;

type Join = (options: { host: string; room: string; id: string; WebSocket: unknown }) => { socket: { close(): void; addEventListener(type: "message", listener: (event: { data: unknown }) => void): void }; say(text: string): void };
type Answer = { status: number; body: string };

/**
 * The secure fixtures of both platforms (a socket needs `token=good`; the party greets `hello
 * <id>…`; `dm <id> <text>` from a client is sent to that id alone with getConnection), each
 * hibernating and not, after init + migrate. Each attack holds an id that is not its own, and must
 * get none of what the party sends privately to that id; the id's client must keep it.
 */
const PLATFORMS = [
  { platform: "partykit", router: "router", party: "main", greeting: (id: string) => `hello ${id}` },
  { platform: "partyserver", router: "party-shard-router", party: "secure", greeting: (id: string) => `hello ${id} alice` },
] as const;

for (const target of PLATFORMS) {
  for (const hibernate of [false, true]) {
    describe(`ids belong to their keys (${target.platform}, ${hibernate ? "hibernating" : "not hibernating"}), after init + migrate`, () => {
      let server: DevServer | undefined;
      let project = "";
      let join: Join;
      const closers: (() => void)[] = [];
      const { router, party, greeting } = target;
      const url = (room: string, id: string, key?: string, via = router) => `ws://${server!.host}/parties/${via}/${room}?token=good&_pk=${id}${key ? `&_psk=${key}` : ""}`;

      before(async () => {
        project = target.platform === "partykit" ? copyProject("secure") : partyserverProject();
        setHibernation(project, target.platform, hibernate);
        for (const args of [["init", "--yes", "--shards", "4", "--shard-target", "1"], ["migrate", "--yes"]]) {
          const result = await runCli(args, project);
          assert.equal(result.exitCode, 0, result.stderr);
        }
        server = target.platform === "partykit" ? await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN }) : await startWranglerDev({ cwd: project });
        ({ join } = (await import(path.join(project, "app", "client.ts"))) as { join: Join });
      });
      after(async () => {
        try {
          for (const close of closers) close();
        } finally {
          await server?.stop();
          if (project) rmSync(project, { recursive: true, force: true });
        }
      });

      it("a client that left takes its id back from a squatter who took it meanwhile (closed 1008, no more of its private messages); the squatter cannot take it back", async () => {
        const room = "squat";
        const boss = await client(room, "boss-1");
        const victimKey = randomUUID();
        const victim = await greeted(url(room, "victim-1", victimKey), "victim-1");
        await leave(victim.socket);
        // A free id is anyone's, as unsharded (a page reload comes back with a new key).
        const squatterKey = randomUUID();
        const squatter = await greeted(url(room, "victim-1", squatterKey), "victim-1");
        const back = await greeted(url(room, "victim-1", victimKey), "victim-1");
        const closed = await squatter.closedByServer(5_000);
        assert.equal(closed?.code, 1008, JSON.stringify(closed));
        await expectRefused(await wsAttempt(url(room, "victim-1", squatterKey)));
        boss.say("dm victim-1 welcome back");
        await until(() => back.inbox.length >= 2, 5_000);
        await sleep(SETTLE_MS);
        assert.deepEqual(back.inbox, [greeting("victim-1"), "dm from boss-1: welcome back"]);
        assert.deepEqual(squatter.inbox, [greeting("victim-1")]);
      });

      it("a client that left comes back with a new key (a page reload): greeted as before", async () => {
        const room = "reload";
        const first = await greeted(url(room, "reload-1", randomUUID()), "reload-1");
        await leave(first.socket);
        await greeted(url(room, "reload-1", randomUUID()), "reload-1");
      });

      it("a socket without a key takes no id in use, a keyless client's nor a keyed one's: refused, and the private messages stay with their client", async () => {
        const room = "keyless";
        const boss = await client(room, "boss-2");
        const anon = await greeted(url(room, "anon-2"), "anon-2");
        const keyed = await greeted(url(room, "keyed-2", randomUUID()), "keyed-2");
        const attempts = [await wsAttempt(url(room, "anon-2")), await wsAttempt(url(room, "keyed-2")), await wsAttempt(url(room, "anon-2", randomUUID()))];
        for (const attempt of attempts) await expectRefused(attempt);
        boss.say("dm anon-2 for anon");
        boss.say("dm keyed-2 for keyed");
        await until(() => anon.inbox.length >= 2 && keyed.inbox.length >= 2, 5_000);
        await sleep(SETTLE_MS);
        assert.deepEqual(anon.inbox, [greeting("anon-2"), "dm from boss-2: for anon"]);
        assert.deepEqual(keyed.inbox, [greeting("keyed-2"), "dm from boss-2: for keyed"]);
        for (const attempt of attempts) if (!attempt.refused) assert.deepEqual(attempt.inbox, []);
      });

      it("a socket straight to the party with the id of a client on a shard is refused and gets none of its private messages", async () => {
        const room = "impostor";
        const boss = await client(room, "boss-3");
        const victim = await greeted(url(room, "victim-3", randomUUID()), "victim-3");
        const impostor = await wsAttempt(url(room, "victim-3", undefined, party));
        await expectRefused(impostor);
        boss.say("dm victim-3 private");
        await until(() => victim.inbox.length >= 2, 5_000);
        await sleep(SETTLE_MS);
        assert.deepEqual(victim.inbox, [greeting("victim-3"), "dm from boss-3: private"]);
        if (!impostor.refused) assert.deepEqual(impostor.inbox, []);
      });

      it("a write with a wrong key gets the answer a write naming an unknown id gets: no one learns who is connected", async () => {
        const room = "oracle";
        await greeted(url(room, "present-6", randomUUID()), "present-6");
        const present = await write(room, "present-6", randomUUID(), 1, "as present");
        const absent = await write(room, "absent-6", randomUUID(), 1, "as absent");
        assert.equal(present.status, 425, present.body);
        assert.deepEqual(present, absent);
      });

      it("a captured write replayed (new idempotency key) after its client reconnected is refused (410) and runs no second time", async () => {
        const room = "replay";
        const witness = await client(room, "witness-4");
        const key = randomUUID();
        const writer = await greeted(url(room, "writer-4", key), "writer-4");
        for (const seq of [1, 2]) assert.deepEqual(await write(room, "writer-4", key, seq, `w${seq}`), { status: 200, body: "ok" });
        await leave(writer.socket);
        await greeted(url(room, "writer-4", key), "writer-4");
        const replayed = await write(room, "writer-4", key, 1, "w1");
        assert.equal(replayed.status, 410, replayed.body);
        assert.deepEqual(await write(room, "writer-4", key, 3, "w3"), { status: 200, body: "ok" });
        await until(() => witness.inbox.length >= 3, 5_000);
        await sleep(SETTLE_MS);
        assert.deepEqual(witness.inbox, ["writer-4: w1", "writer-4: w2", "writer-4: w3"]);
      });

      it("a write without its socket's key never reaches the leader: answered before its body is read in full, a batch too, while the key's own writes run", async () => {
        const room = "anonymous";
        const witness = await client(room, "witness-7");
        const key = randomUUID();
        await greeted(url(room, "present-7", key), "present-7");
        for (const [id, writeKey, type] of [
          ["absent-7", randomUUID(), "text/plain"],
          ["present-7", randomUUID(), "text/plain"],
          ["present-7", randomUUID(), "application/vnd.party-shard.batch+json"],
        ]) {
          const head = [`POST /parties/${router}/${room} HTTP/1.1`, `Host: ${server!.host}`, `Content-Type: ${type}`, "Transfer-Encoding: chunked", `x-party-shard-connection: ${id}`, `x-party-shard-key: ${writeKey}`, "x-party-shard-seq: 1", "Connection: close"];
          // One chunk of 64 KiB of a body that never ends: an answer can only come from a router that did not wait for the rest.
          const answer = await pastProxyRestarts(() => rawRequest(server!.host, head.join("\r\n"), (socket) => void socket.write(`10000\r\n${"x".repeat(65_536)}\r\n`), 8_000));
          assert.equal(answer.status, 425, `${id} ${type}: ${answer.head} ${answer.body}`);
        }
        assert.deepEqual(await write(room, "present-7", key, 1, "mine"), { status: 200, body: "ok" });
        await until(() => witness.inbox.length >= 1, 5_000);
        assert.deepEqual(witness.inbox, ["present-7: mine"]);
        const view = (await (await fetch(`http://${server!.host}/parties/${router}/${room}`, { headers: { "x-party-shard-view-token": server!.viewToken } })).json()) as { leader: { unknownWriters?: number } };
        assert.equal(view.leader.unknownWriters, 0, "writes the leader refused for an unknown connection or key");
      });

      it("a client on a shard gets the request's cf as the edge saw it: its onConnect reads what a direct client's reads", async () => {
        const room = `cf-${hibernate}`;
        const cfOf = async (attempt: Attempt) => {
          assert.ok(!attempt.refused, attempt.refused ? `${attempt.status} ${attempt.body}` : "");
          closers.push(() => attempt.socket.terminate());
          await until(() => attempt.inbox.some((message) => message.startsWith("cf ")), 10_000);
          return JSON.parse(attempt.inbox.find((message) => message.startsWith("cf "))!.slice(3)) as unknown;
        };
        const direct = await cfOf(await wsAttempt(url(room, "direct-8", undefined, party)));
        const sharded = await cfOf(await wsAttempt(url(room, "sharded-8", randomUUID())));
        assert.ok(direct !== null && typeof direct === "object" && Object.keys(direct).length > 0, `the dev server gives a direct socket's request a cf: ${JSON.stringify(direct)}`);
        assert.deepEqual(sharded, direct);
      });

      it("a 900 KiB binary message crosses the links as the same bytes, both ways: from a client on a shard, and to clients on shards", async () => {
        // Both dev servers take a client's message up to 1 MiB (partykit dev closes a bigger one 1009).
        const room = `bytes-${hibernate}`;
        const joined = async (socketUrl: string) => {
          const attempt = await wsAttempt(socketUrl);
          assert.ok(!attempt.refused, attempt.refused ? `${attempt.status} ${attempt.body}` : "");
          closers.push(() => attempt.socket.terminate());
          const received: Buffer[] = [];
          attempt.socket.on("message", (data: Buffer, isBinary: boolean) => void (isBinary && received.push(data)));
          return { socket: attempt.socket, received };
        };
        const sharded = await joined(url(room, "sharded-9", randomUUID()));
        const other = await joined(url(room, "other-9", randomUUID()));
        const direct = await joined(url(room, "direct-9", undefined, party));
        const everyone = [sharded, other, direct];
        for (const [sender, seed] of [[sharded, 7], [direct, 11]] as const) {
          const payload = Buffer.from(Array.from({ length: 900 * 1_024 }, (_, i) => (i * seed) & 255));
          sender.socket.send(payload);
          await until(() => everyone.every((client) => client.received.length > 0), 20_000);
          for (const [i, client] of everyone.entries()) {
            const got = client.received.splice(0, 1)[0];
            assert.ok(got?.equals(payload), `client ${i} got ${got?.length} bytes from the sender seeded ${seed}, not the ${payload.length} it sent`);
          }
        }
        // The broadcasts' frames to the shards carried the bytes as bytes: base64 made them 4/3 the size.
        const view = (await (await fetch(`http://${server!.host}/parties/${router}/${room}`, { headers: { "x-party-shard-view-token": server!.viewToken } })).json()) as { leader: { largestShardFrameBytes: number } };
        assert.ok(view.leader.largestShardFrameBytes < 900 * 1_024 + 1_024, `the largest frame to a shard was ${view.leader.largestShardFrameBytes} bytes`);
      });

      /** A migrated client of the fixture (through the router, with a write key), greeted. */
      async function client(room: string, id: string) {
        const { socket, say } = join({ host: server!.host, room, id, WebSocket });
        const inbox: string[] = [];
        socket.addEventListener("message", (event) => inbox.push(String(event.data)));
        closers.push(() => socket.close());
        await until(() => inbox.includes(greeting(id)), 10_000);
        assert.deepEqual(inbox.splice(0), [greeting(id)], id);
        return { inbox, say };
      }

      /** A raw socket that must open and be greeted as `id`; its inbox keeps the greeting. */
      async function greeted(socketUrl: string, id: string) {
        const attempt = await wsAttempt(socketUrl);
        assert.ok(!attempt.refused, attempt.refused ? `${attempt.status} ${attempt.body}` : "");
        closers.push(() => attempt.socket.terminate());
        await until(() => attempt.inbox.includes(greeting(id)), 10_000);
        assert.deepEqual(attempt.inbox, [greeting(id)], id);
        return attempt;
      }

      /**
       * A client closes its socket, and its close reaches the party. (partykit dev keeps the TCP
       * connection after its close answer, so the socket's CLOSED would come seconds later.)
       */
      async function leave(socket: WebSocket) {
        socket.close();
        await sleep(2 * SETTLE_MS);
      }

      /** Refused at the handshake (4xx), or opened and closed 1008 before the party met it. */
      async function expectRefused(attempt: Attempt) {
        if (attempt.refused) return assert.ok(attempt.status >= 400 && attempt.status < 500, `${attempt.status} ${attempt.body}`);
        closers.push(() => attempt.socket.terminate());
        const closed = await attempt.closedByServer(5_000);
        assert.equal(closed?.code, 1008, `closed ${JSON.stringify(closed)}, received ${JSON.stringify(attempt.inbox)}`);
        assert.deepEqual(attempt.inbox, []);
      }

      /** A connection's keyed, numbered write, as sendViaRouter sends it (asked again, with the same key, on wrangler dev's proxy's 503). */
      async function write(room: string, id: string, key: string, seq: number, body: string): Promise<Answer> {
        const headers = { "content-type": "text/plain;charset=UTF-8", "x-party-shard-connection": id, "x-party-shard-key": key, "x-party-shard-seq": String(seq), "idempotency-key": randomUUID() };
        return pastProxyRestarts(async () => {
          const res = await fetch(`http://${server!.host}/parties/${router}/${room}`, { method: "POST", headers, body });
          return { status: res.status, body: await res.text() };
        });
      }
    });
  }
}

function partyserverProject(): string {
  const project = tempDir("partyserver-identity");
  cpSync(path.join(FIXTURES, "partyserver", "secure"), project, { recursive: true });
  linkNodeModules(project, REPO);
  return project;
}

/** The fixtures' parties as they come: PartyKit's does not hibernate, PartyServer's does. */
function setHibernation(project: string, platform: string, hibernate: boolean) {
  const [file, from, to] =
    platform === "partykit"
      ? [path.join(project, "src", "main.ts"), "  constructor(readonly room: Party.Room) {}", `  readonly options = { hibernate: ${hibernate} };\n  constructor(readonly room: Party.Room) {}`]
      : [path.join(project, "src", "server.ts"), "static options = { hibernate: true };", `static options = { hibernate: ${hibernate} };`];
  const source = readFileSync(file, "utf8");
  assert.ok(source.includes(from), `${file} has no ${from}`);
  writeFileSync(file, source.replace(from, to));
}

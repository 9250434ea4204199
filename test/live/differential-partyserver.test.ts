import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import WebSocket from "ws";
import { clientId, describeDifferential, type ClientModule, type DifferentialLab, type Message } from "../helpers/differential.js";
import { counter, poll, type CounterClient } from "../helpers/differential-apps.js";
import { handshakeOutcome } from "../helpers/raw-http.js";
import { sleep, waitFor } from "../helpers/wait.js";

/**
 * The PartyKit differential test's scripts on wrangler dev, against the PartyServer twins of its
 * apps (test/fixtures/differential-partyserver): unsharded, sharded (init + migrate by the CLI),
 * sharded with faults. What is new on this platform: a hibernating room is evicted after ~10 s of
 * quiet even while sockets (and the shards' links) are open, so the counter's script holds still
 * long enough for that mid-way; and the edge no longer keeps shard rooms private.
 */
const QUIET_MS = 15_000;
const ROOM = "tally";
const LEADER_START = new RegExp(`\\[differential\\] counter start ${ROOM}$`, "gm");

describe("differential on wrangler dev: a sharded PartyServer app behaves exactly like the unsharded one", { concurrency: 2 }, () => {
  describeDifferential<CounterClient>("counter (hibernating Server class, storage kept across migration, connection state, side effects, a quiet spell)", {
    ...counter,
    platform: "partyserver",
    fixture: "counter",
    party: "counter",
    room: ROOM,
    quietMs: QUIET_MS,

    checkLog(log) {
      // The quiet spell must have done what it is there for: the room started again after it.
      const starts = log.match(LEADER_START)?.length ?? 0;
      assert.ok(starts >= 2, `the counter room started ${starts} time(s): it was not evicted during the quiet spell\n${log.slice(-3000)}`);
    },

    more(lab) {
      it("sharded: shard rooms and link ids are refused at the edge, and the party's handlers never run for them", () => hostileEdge(lab));
      it("sharded: sockets open when the server stopped are not connections after it restarts", () => restart(lab));
    },
  });

  describeDifferential("poll (non-hibernating Server class, HTTP-created rounds, connection state)", {
    ...poll,
    platform: "partyserver",
    fixture: "poll",
    party: "poll",
    room: "lunch",
  });
});

/**
 * On PartyServer a room name is the raw path segment and `!` passes the edge, so nothing but the
 * runtime keeps `<room>!shard-<n>` and the links' connection ids to itself. Two clients (one
 * through the router, one straight to the party) are the witnesses: they must see nothing of
 * the hostile attempts, the party must log no handler call for them, the sink must get no call,
 * and the count and online number must stay as they were.
 */
async function hostileEdge(lab: DifferentialLab<CounterClient>): Promise<void> {
  // A room of its own: the script's room may hold what its last run left.
  const ROOM = "edge";
  await lab.withServer("sharded", async (server, log, sink) => {
    const base = `http://${server.host}`;
    const original = (await import(path.join(lab.fixtureDir, "app", "client.ts"))) as ClientModule<CounterClient>;
    const migrated = (await import(path.join(lab.projectDir("sharded"), "app", "client.ts"))) as ClientModule<CounterClient>;
    const inboxes: Message[][] = [[], []];
    const witnesses = [migrated, original].map((module, i) =>
      module.join({ host: server.host, room: ROOM, id: clientId(90 + i), WebSocket, onMessage: (data) => inboxes[i]!.push(data as Message) }),
    );
    try {
      await waitFor(`both witnesses see two online`, () => inboxes.every((inbox) => inbox.some((m) => m.type === "online" && m.n === 2)), () => JSON.stringify(inboxes) + log());
      // The marker the hostile attempts must not add shows up for the witnesses: the check can fail.
      await waitFor("the party logs both witnesses' onConnect", () => countLines(log(), "counter onConnect") === 2);
      const before = await readCounter(original, server.host, ROOM);
      await waitFor("the party logs the read's onRequest", () => countLines(log(), "counter onRequest") === 1);
      const seen = inboxes.map((inbox) => inbox.length);

      const shardRooms = [`${ROOM}!shard-1`, `${ROOM}!shard-0`];
      // Every attempt is made before anything is asserted, so one failure lists them all.
      const answers: string[] = [];
      const wrong: string[] = [];
      const refused = (what: string, status: number | string, body = "") => {
        const line = `${what}: ${status} ${body.slice(0, 160)}`;
        answers.push(line);
        if (!/^(refused )?4\d\d$/.test(String(status))) wrong.push(line);
      };
      for (const room of shardRooms) {
        const url = `/parties/party-shard-router/${room}`;
        const get = await fetch(base + url);
        refused(`GET ${url}`, get.status, await get.text());
        const post = await fetch(base + url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ amount: 1000 }) });
        refused(`POST ${url}`, post.status, await post.text());
        refused(`WS ${url}`, await handshakeOutcome(`ws://${server.host}${url}`));
      }
      // A link's id from the internet, straight to the party and through the router.
      for (const url of [`/parties/counter/${ROOM}?_pk=party-shard-link-evil`, `/parties/counter/${ROOM}?_pk=party-shard-link-0`]) {
        const get = await fetch(base + url);
        refused(`GET ${url}`, get.status, await get.text());
        refused(`WS ${url}`, await handshakeOutcome(`ws://${server.host}${url}`));
      }
      const routed = `/parties/party-shard-router/${ROOM}?_pk=party-shard-link-1-evil`;
      refused(`WS ${routed}`, await handshakeOutcome(`ws://${server.host}${routed}`));
      // PartyServer does not decode room names: `%21` is not `!`, and names a room of its own (as
      // straight to the party), never a shard. Its placement view (the operator's, with the view
      // token) says which room it is.
      const encoded = await fetch(`${base}/parties/party-shard-router/${ROOM}%21shard-1`, { headers: { "x-party-shard-view-token": server.viewToken } });
      const view = (await encoded.json()) as { room?: string; shards?: number };
      answers.push(`GET ${ROOM}%21shard-1: ${encoded.status} ${JSON.stringify(view)}`);
      if (encoded.status !== 200 || view.room !== `${ROOM}%21shard-1` || view.shards !== 4) wrong.push(`GET ${ROOM}%21shard-1 is not the placement view of the room named so: ${encoded.status} ${JSON.stringify(view)}`);
      if (process.env.DIFFERENTIAL_TRACE) console.error(answers.join("\n"));

      await sleep(1_000);
      const after = await readCounter(original, server.host, ROOM);
      const problems = [
        ...wrong.map((line) => `wrong answer: ${line}`),
        ...inboxes.flatMap((inbox, i) => inbox.slice(seen[i]).map((m) => `witness ${clientId(90 + i)} got ${JSON.stringify(m)}`)),
        ...unexpectedHandlerCalls(log(), [`onConnect ${ROOM} ${clientId(90)}`, `onConnect ${ROOM} ${clientId(91)}`, `onRequest ${ROOM} GET`, `onRequest ${ROOM} GET`]),
        ...sink.map((call) => `the sink got ${JSON.stringify(call)}`),
        ...(isDeepStrictEqual(after, before) ? [] : [`the room changed: ${JSON.stringify(before)} → ${JSON.stringify(after)}`]),
      ];
      assert.deepEqual(problems, [], `every answer:\n${answers.join("\n")}`);
    } finally {
      for (const witness of witnesses) witness.leave();
    }
  });
}

async function readCounter(client: ClientModule<CounterClient>, host: string, room: string): Promise<Message> {
  const read = await client.request(host, room);
  assert.equal(read.status, 200, read.text);
  return JSON.parse(read.text) as Message;
}

/**
 * Unsharded, sockets die with the server and a restarted room counts only new ones. Sharded,
 * the shards remember their clients to tell a restarted leader who is connected: what they
 * remembered of sockets that died with the process must not come back as connections.
 */
async function restart(lab: DifferentialLab<CounterClient>): Promise<void> {
  const ROOM = "restart";
  const migrated = (await import(path.join(lab.projectDir("sharded"), "app", "client.ts"))) as ClientModule<CounterClient>;
  const left: CounterClient[] = [];
  try {
    await lab.withServer("sharded", async (server) => {
      const inboxes: Message[][] = [[], [], []];
      for (let i = 0; i < 3; i++) {
        left.push(migrated.join({ host: server.host, room: ROOM, id: clientId(80 + i), WebSocket, onMessage: (data) => inboxes[i]!.push(data as Message) }));
      }
      await waitFor("three clients online", () => inboxes.every((inbox) => inbox.some((m) => m.type === "online" && m.n === 3)), () => JSON.stringify(inboxes));
      // The server stops with the three still connected.
    });
  } finally {
    // Their sockets are gone with the server; stop them trying another.
    for (const client of left) client.leave();
  }
  await lab.withServer("sharded", async (server) => {
    const inbox: Message[] = [];
    const witness = migrated.join({ host: server.host, room: ROOM, id: clientId(89), WebSocket, onMessage: (data) => inbox.push(data as Message) });
    try {
      await waitFor("the witness's welcome", () => inbox.some((m) => m.type === "welcome"), () => JSON.stringify(inbox));
      await sleep(1_000);
      const read = await readCounter(migrated, server.host, ROOM);
      assert.deepEqual(
        { welcome: inbox.find((m) => m.type === "welcome")?.online, online: inbox.filter((m) => m.type === "online").at(-1)?.n, read: read.online },
        { welcome: 1, online: 1, read: 1 },
        `after the restart the party counts sockets that are gone: ${JSON.stringify(inbox)} ${JSON.stringify(read)}`,
      );
    } finally {
      witness.leave();
    }
  });
}

/** The counter's handler lines in the log beyond the expected ones (each expected line taken once). */
function unexpectedHandlerCalls(log: string, expected: string[]): string[] {
  const left = [...expected];
  return log.split("\n").flatMap((line) => {
    const call = /\[differential\] counter (on\w+ .*)$/.exec(line)?.[1];
    if (call === undefined) return [];
    const at = left.indexOf(call.trim());
    if (at >= 0) return void left.splice(at, 1), [];
    return [`the party's handler ran: ${call.trim()}`];
  });
}

function countLines(log: string, marker: string): number {
  return log.split("\n").filter((line) => line.includes(`[differential] ${marker}`)).length;
}

import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import type { Conn, LeaderHost, LinkEnd, PartyCalls } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { partykitRuntime } from "../src/runtime/partykit.js";
import { leaderHostWith } from "./helpers/leader-host.js";

const LINK_ID = "party-shard-link-1-test";
const hello = { t: "hello", room: "lobby", incarnation: "shard-1-a", acked: 0, clients: [] };
const open = { t: "open", seq: 1, id: "alice", uri: "http://host/parties/main/lobby", key: "alice-key", headers: [] };
const message = { t: "message", seq: 2, id: "alice", data: { text: "hi" } };

/** A link whose frames to the shard are kept, parsed. */
function fakeLink() {
  const toShard: { t: string }[] = [];
  const link: LinkEnd & { toShard: typeof toShard } = { id: LINK_ID, readyState: 1, send: (text) => toShard.push(JSON.parse(text)), close() {}, toShard };
  return link;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("a leader started by its alarm (PartyKit hides the room id there)", () => {
  it("learns its room from its shards' hellos: a client that joins after gets onConnect, and its messages run", async () => {
    const link = fakeLink();
    const calls: string[] = [];
    const host: LeaderHost = {
      get id(): string {
        throw new Error("This room's id is not available in onAlarm");
      },
      env: {},
      hibernates: false,
      directConnections: () => [],
      directConnection: () => undefined,
      links: () => [link],
      link: (id) => (id === LINK_ID ? link : undefined),
      routerRoom: () => async () => new Response("{}"),
    };
    const party: PartyCalls = {
      connect: (conn: Conn) => void calls.push(`connect ${conn.id}`),
      message: (conn: Conn, data) => void calls.push(`message ${conn.id} ${String(data)}`),
    };
    const core = new LeaderCore(host, party);
    await core.start();
    for (const frame of [hello, open, message]) await core.onLinkFrame(link, JSON.stringify(frame));
    await settle();
    assert.deepEqual(calls, ["connect alice", "message alice hi"]);
    assert.equal(core.roomId(), "lobby");
    // The first answers the hello (what the leader took of this shard: nothing yet).
    assert.deepEqual(link.toShard.filter((frame) => frame.t === "ack"), [{ t: "ack", seq: 0 }, { t: "ack", seq: 1 }, { t: "ack", seq: 2 }]);
  });
});

describe("PartyKit: a frame relayed to a woken leader", () => {
  it("reaches the party only after the party's own onStart finished", async () => {
    const calls: string[] = [];
    let finishStart!: () => void;
    class Party {
      async onStart() {
        calls.push("onStart begins");
        await new Promise<void>((resolve) => (finishStart = resolve));
        calls.push("onStart ends");
      }
      onConnect(conn: Conn) {
        calls.push(`onConnect ${conn.id}`);
      }
    }
    const linkConn = { ...fakeLink(), uri: null, state: null, setState: () => null };
    const room = {
      id: "lobby",
      env: {},
      storage: new Map(),
      getConnections: () => [linkConn],
      getConnection: (id: string) => (id === LINK_ID ? linkConn : undefined),
      context: { parties: {} },
    };
    const Leader = partykitRuntime({ party: "main", router: "router" }).sharded(Party) as unknown as new (room: unknown) => {
      onStart(): Promise<void>;
      onMessage(message: string, conn: unknown): Promise<void> | undefined;
    };
    const leader = new Leader(room);
    const started = leader.onStart();
    // The woken leader asked its shard who is connected; the shard answers, then relays an open.
    await leader.onMessage(JSON.stringify(hello), linkConn);
    const relayed = leader.onMessage(JSON.stringify(open), linkConn);
    for (let i = 0; i < 20; i++) await settle();
    assert.deepEqual(calls, ["onStart begins"]);
    finishStart();
    await started;
    await relayed;
    await settle();
    assert.deepEqual(calls, ["onStart begins", "onStart ends", "onConnect alice"]);
  });
});

describe("a room whose onStart fails once", () => {
  it("closes the client whose open met the failure (1011), acknowledges that frame, and takes the shard's next frames without waiting for anything else", async () => {
    const link = fakeLink();
    const calls: string[] = [];
    let starts = 0;
    const host: LeaderHost = { ...leaderHostWith([link]), ready: async () => {
      if (starts++ === 0) throw new Error("flaky start");
    } };
    const party: PartyCalls = { connect: (conn: Conn) => void calls.push(`connect ${conn.id}`), message: (conn: Conn, data) => void calls.push(`message ${conn.id} ${String(data)}`) };
    const core = new LeaderCore(host, party);
    await core.start();
    const logged = mock.method(console, "error", () => undefined);
    try {
      await core.onLinkFrame(link, JSON.stringify(hello));
      link.toShard.length = 0;
      // Never rejected to the platform (a throw out of a socket handler resets the object).
      await core.onLinkFrame(link, JSON.stringify(open));
      assert.deepEqual(link.toShard.map(({ t, ...rest }) => [t, "code" in rest ? rest.code : "seq" in rest ? rest.seq : undefined]), [["close", 1011], ["ack", 1]]);
      assert.equal(logged.mock.callCount(), 1);
    } finally {
      logged.mock.restore();
    }
    // The client reconnects: its new open (and what follows) run, with no hello asked for.
    await core.onLinkFrame(link, JSON.stringify({ ...open, seq: 2, socket: "s2" }));
    await core.onLinkFrame(link, JSON.stringify({ ...message, seq: 3 }));
    await settle();
    assert.deepEqual(calls, ["connect alice", "message alice hi"]);
    assert.ok(!link.toShard.some((frame) => frame.t === "resync"));
    assert.deepEqual(link.toShard.filter((frame) => frame.t === "ack").at(-1), { t: "ack", seq: 3 });
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Conn, LeaderHost, LinkEnd, PartyCalls } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { partykitRuntime } from "../src/runtime/partykit.js";

const LINK_ID = "party-shard-link-1-test";
const hello = { t: "hello", room: "lobby", incarnation: "shard-1-a", epoch: 1, link: 1, heard: 0, acked: 0, clients: [] };
const open = { t: "open", seq: 1, id: "alice", uri: "http://host/parties/main/lobby", key: "alice-key", headers: [] };
const message = { t: "message", seq: 2, id: "alice", data: { text: "hi" } };

/** A link whose frames to the shard are kept, parsed. */
function fakeLink() {
  const toShard: { t: string }[] = [];
  const link: LinkEnd & { toShard: typeof toShard } = { id: LINK_ID, readyState: 1, send: (text) => toShard.push(JSON.parse(text)), close() {}, toShard };
  return link;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A leader's host with one shard linked by `link`, and the differences a test needs. */
function fakeHost(link: LinkEnd, more: Partial<LeaderHost>): LeaderHost {
  const host: LeaderHost = {
    id: "lobby",
    env: {},
    hibernates: false,
    directConnections: () => [],
    directConnection: () => undefined,
    links: () => [link],
    link: (id) => (id === LINK_ID ? link : undefined),
    routerRoom: () => async () => new Response("{}"),
  };
  // Properties, getters included, as the test defines them.
  return Object.defineProperties(host, Object.getOwnPropertyDescriptors(more));
}

describe("a leader started by its alarm (PartyKit hides the room id there)", () => {
  it("learns its room from its shards' hellos: a client that joins after gets onConnect, and its messages run", async () => {
    const link = fakeLink();
    const calls: string[] = [];
    const host = fakeHost(link, {
      get id(): string {
        throw new Error("This room's id is not available in onAlarm");
      },
    });
    const party: PartyCalls = {
      connect: (conn: Conn) => void calls.push(`connect ${conn.id}`),
      message: (conn: Conn, data) => void calls.push(`message ${conn.id} ${String(data)}`),
    };
    const core = new LeaderCore(host, party);
    const started = core.start(); // resolves once the shard said hello (below)
    for (const frame of [hello, open, message]) await core.onLinkFrame(link, JSON.stringify(frame));
    await settle();
    await started;
    assert.deepEqual(calls, ["connect alice", "message alice hi"]);
    assert.equal(core.roomId(), "lobby");
    assert.deepEqual(link.toShard.filter((frame) => frame.t === "ack"), [{ t: "ack", seq: 1 }, { t: "ack", seq: 2 }]);
    // The shard got what the leader sent it: no leader stays awake waiting for it.
    await core.onLinkFrame(link, JSON.stringify({ t: "got", n: link.toShard.filter((frame) => "n" in frame).length }));
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
    await leader.onMessage(JSON.stringify({ t: "got", n: linkConn.toShard.filter((frame) => "n" in frame).length }), linkConn);
  });
});

describe("a room whose onStart fails (PartyServer runs it again for the next event)", () => {
  it("closes the client whose open met the failure (1011), acknowledges that open and never runs it, as for a direct socket", async () => {
    const link = fakeLink();
    const calls: string[] = [];
    let failures = 1;
    const host = fakeHost(link, {
      id: "flaky",
      ready: async () => {
        if (failures-- > 0) throw new Error("flaky start");
      },
    });
    const party: PartyCalls = { connect: (conn: Conn) => void calls.push(`connect ${conn.id}`) };
    const core = new LeaderCore(host, party);
    const started = core.start();
    await core.onLinkFrame(link, JSON.stringify(hello));
    await started;
    const errors: unknown[] = [];
    const log = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      await assert.rejects(core.onLinkFrame(link, JSON.stringify(open)), /flaky start/);
      await settle();
    } finally {
      console.error = log;
    }
    assert.deepEqual(link.toShard.filter((frame) => frame.t === "close"), [{ t: "close", n: 1, to: "alice", code: 1011, reason: "Uncaught exception during session setup" }]);
    // Acknowledged: the shard does not send it again. Sent again all the same (its ack lost), it is a repeat.
    assert.deepEqual(link.toShard.filter((frame) => frame.t === "ack"), [{ t: "ack", seq: 1 }]);
    await core.onLinkFrame(link, JSON.stringify({ ...open, retry: true }));
    await settle();
    assert.deepEqual(calls, [], "onConnect never runs for a client closed because its room failed to start");
    // A later client of the same shard is served as any other.
    await core.onLinkFrame(link, JSON.stringify({ ...open, seq: 2, id: "bob", key: "bob-key" }));
    await settle();
    assert.deepEqual(calls, ["connect bob"]);
    // The shard got what the leader sent it: no leader stays awake waiting for it.
    await core.onLinkFrame(link, JSON.stringify({ t: "got", n: link.toShard.filter((frame) => "n" in frame).length }));
  });
});

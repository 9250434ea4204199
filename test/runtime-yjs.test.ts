import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { onConnect, unstable_getYDoc } from "y-partykit";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as syncProtocol from "y-protocols/sync";
import * as Y from "yjs";
import type { Conn, LinkEnd } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { pack, unpack } from "../src/runtime/link-frames.js";
import { decode, encode, type LeaderFrame, type RelayFrame, type Unnumbered } from "../src/runtime/protocol.js";
import { leaderHostWith } from "./helpers/leader-host.js";

// Node 20 has no CloseEvent; the workers runtime does (the leader dispatches one on a close).
globalThis.CloseEvent ??= class extends Event {} as unknown as typeof CloseEvent;

const LINK_ID = "party-shard-link-1-yjs";
// A timer turn: sends held with a relayed message's broadcasts go out after it (leader-fanout.ts).
const settle = () => new Promise((resolve) => setTimeout(resolve, 1));

/**
 * A leader whose party is y-partykit's `onConnect(conn, room)`, and one shard's link: what the
 * party sends each client is decoded as its shard would, and applied to that client's Y.Doc.
 */
function yjsLeader(room: string) {
  const toShard: LeaderFrame[] = [];
  // Frames both ways as a link carries them (link-frames.ts): a message's bytes as bytes.
  const link: LinkEnd = { id: LINK_ID, readyState: 1, send: (wire) => void toShard.push(unpack(wire)), close() {} };
  const party = { id: room, storage: new Map(), env: {} };
  const core = new LeaderCore(leaderHostWith([link], room), { connect: (conn: Conn) => onConnect(conn as never, party as never) });
  let seq = 0;
  const frame = (body: Unnumbered<RelayFrame>) => core.onLinkFrame(link, pack({ ...body, seq: ++seq } as RelayFrame));
  const syncMessage = (write: (encoder: encoding.Encoder) => void) => {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, 0);
    write(encoder);
    return encode(encoding.toUint8Array(encoder));
  };
  const clients = new Map<string, { doc: Y.Doc; read: number }>();

  return {
    core,
    toShard,
    async start() {
      // The leader asks its shard who is connected, and waits for the answer.
      const started = core.start();
      await core.onLinkFrame(link, JSON.stringify({ t: "hello", room, incarnation: "shard-1-yjs", acked: 0, clients: [] }));
      await started;
    },
    async join(id: string) {
      const doc = new Y.Doc();
      clients.set(id, { doc, read: 0 });
      // As y-partykit's provider does: the document's own updates go to the server.
      doc.on("update", (update: Uint8Array, origin: unknown) => {
        if (origin !== "server") void frame({ t: "message", id, data: syncMessage((encoder) => syncProtocol.writeUpdate(encoder, update)) });
      });
      await frame({ t: "open", id, uri: `http://host/parties/main/${room}`, key: `${id}-key`, headers: [] });
      // As the provider opens: its state vector, so that the server answers with what it lacks.
      await frame({ t: "message", id, data: syncMessage((encoder) => syncProtocol.writeSyncStep1(encoder, doc)) });
      await settle();
      return doc;
    },
    /** Applies what the leader sent `id` since last time, answering sync step 1 as a provider does. */
    async receive(id: string) {
      await settle();
      const client = clients.get(id)!;
      // Sent to it alone, or held with others and sent once to several sockets of the shard.
      const frames = toShard.flatMap((each) =>
        each.t === "send" ? (each.to === id ? [each.data] : []) : each.t === "broadcasts" ? each.items.flatMap((item) => ("to" in item && item.to.includes(id) ? [item.data] : [])) : [],
      );
      for (const data of frames.slice(client.read)) {
        const bytes = decode(data);
        assert.ok(bytes instanceof ArrayBuffer, "binary stays binary over the link");
        const decoder = decoding.createDecoder(new Uint8Array(bytes));
        if (decoding.readVarUint(decoder) !== 0) continue;
        const reply = encoding.createEncoder();
        encoding.writeVarUint(reply, 0);
        syncProtocol.readSyncMessage(decoder, reply, client.doc, "server");
        if (encoding.length(reply) > 1) await frame({ t: "message", id, data: encode(encoding.toUint8Array(reply)) });
      }
      client.read = frames.length;
      await settle();
    },
    close: (id: string) => frame({ t: "close", id, code: 1000, reason: "bye" }),
    /** y-partykit keeps each room's document (and its awareness timer) for the process. */
    async end() {
      (await unstable_getYDoc(party as never)).awareness.destroy();
    },
  };
}

describe("y-partykit's onConnect on clients on a shard (RemoteConnection)", () => {
  it("syncs each client with the leader's document: edits on either reach the other, binary frames both ways", async () => {
    const leader = yjsLeader("yjs-two-clients");
    await leader.start();
    const alice = await leader.join("alice");
    const bob = await leader.join("bob");
    await leader.receive("alice");
    await leader.receive("bob");
    alice.getText("t").insert(0, "hello");
    await settle();
    await leader.receive("bob");
    assert.equal(bob.getText("t").toString(), "hello");
    bob.getText("t").insert(5, " world");
    await settle();
    await leader.receive("alice");
    assert.equal(alice.getText("t").toString(), "hello world");
    await leader.end();
  });

  it("a late joiner gets the whole document in its first sync", async () => {
    const leader = yjsLeader("yjs-late-joiner");
    await leader.start();
    const alice = await leader.join("alice");
    await leader.receive("alice");
    alice.getText("t").insert(0, "x".repeat(10_000));
    await settle();
    const carol = await leader.join("carol");
    await leader.receive("carol");
    await leader.receive("carol");
    assert.equal(carol.getText("t").length, 10_000);
    await leader.end();
  });

  it("a client's close reaches y-partykit's close listener, and its conn.close() there sends its shard nothing", async () => {
    const leader = yjsLeader("yjs-close");
    await leader.start();
    await leader.join("alice");
    const sent = leader.toShard.length;
    await leader.close("alice");
    await settle();
    const after = leader.toShard.slice(sent).filter((frame) => frame.t !== "ack");
    assert.deepEqual(after, []);
    assert.equal([...leader.core.connections()].length, 0);
    await leader.end();
  });
});

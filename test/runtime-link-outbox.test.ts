/**
 * What the leader sends down one link within one turn goes as one link message (link-outbox.ts),
 * to a shard whose hello said it takes them; each frame keeps its number, its order and its
 * place among the frames kept to send again. And what the leader keeps of a connection goes to
 * its shard once a turn, however many of tags, state and attachment the party set.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Conn, LinkEnd } from "../src/runtime/host.js";
import { LeaderCore } from "../src/runtime/leader.js";
import { leaderFrames, unpack } from "../src/runtime/link-frames.js";
import { LinkOutbox } from "../src/runtime/link-outbox.js";
import type { LeaderFrame } from "../src/runtime/protocol.js";
import { leaderHostWith } from "./helpers/leader-host.js";

globalThis.CloseEvent ??= class extends Event {} as unknown as typeof CloseEvent;
const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A link whose messages are kept as sent (`wires`). */
function fakeLink(shard = 1) {
  const wires: (string | ArrayBuffer)[] = [];
  const link: LinkEnd & { wires: typeof wires } = { id: `party-shard-link-${shard}-test`, readyState: 1, send: (wire) => void wires.push(wire), close() {}, wires };
  return link;
}
/** Each link message's frames, by their kind. */
const kinds = (link: ReturnType<typeof fakeLink>) => link.wires.map((wire) => leaderFrames(unpack(wire)).map((frame) => frame.t).join("+"));

describe("the leader's link outbox", () => {
  it("text frames of one turn go as one message, in order; a frame with bytes goes alone after them; to a shard that takes no batches, one message a frame", async () => {
    let sent = 0;
    const outbox = new LinkOutbox(() => sent++);
    const link = fakeLink();
    const text = (n: number) => JSON.stringify({ t: "send", to: "a", data: { text: `m${n}` }, n });
    outbox.send(link, text(1), 40, true);
    outbox.send(link, text(2), 40, true);
    assert.equal(link.wires.length, 0, "not before the end of the turn");
    outbox.send(link, new ArrayBuffer(8), 8, true);
    outbox.send(link, text(4), 40, true);
    await settle();
    assert.equal(link.wires.length, 3);
    assert.deepEqual(leaderFrames(unpack<LeaderFrame>(link.wires[0]!)).map((frame) => (frame as { n: number }).n), [1, 2]);
    assert.ok(link.wires[1] instanceof ArrayBuffer, "the binary frame alone, after the two before it");
    assert.deepEqual(leaderFrames(unpack<LeaderFrame>(link.wires[2]!)).map((frame) => (frame as { n: number }).n), [4]);
    assert.equal(sent, 3);
    const old = fakeLink(2);
    outbox.send(old, text(1), 40, false);
    outbox.send(old, text(2), 40, false);
    assert.deepEqual(kinds(old), ["send", "send"], "at once, one a message");
  });

  it("frames for one link through different wrappers of it (as a host may hand out) keep their order", async () => {
    const outbox = new LinkOutbox(() => undefined);
    const link = fakeLink();
    const again = { ...link, send: link.send };
    outbox.send(link, JSON.stringify({ t: "send", to: "a", data: { text: "1" }, n: 1 }), 40, true);
    outbox.send(again, JSON.stringify({ t: "ack", seq: 3 }), 20, true);
    outbox.send(link, JSON.stringify({ t: "send", to: "a", data: { text: "2" }, n: 2 }), 40, true);
    await settle();
    assert.deepEqual(kinds(link), ["send+ack+send"]);
  });

  it("a link that closed meanwhile is sent nothing", async () => {
    const outbox = new LinkOutbox(() => undefined);
    const link = fakeLink();
    outbox.send(link, JSON.stringify({ t: "ack", seq: 1 }), 20, true);
    link.readyState = 3;
    await settle();
    assert.equal(link.wires.length, 0);
  });

  it("a leader batches for a shard whose hello says `batches`, and not for one whose hello does not (an older runtime)", async () => {
    const [newer, older] = [fakeLink(1), fakeLink(2)];
    const core = new LeaderCore(leaderHostWith([newer, older]), {
      connect: (conn: Conn) => {
        conn.setState({ joined: true });
        conn.send("welcome");
      },
    });
    void core.start();
    const hello = (shard: number, batches: boolean) => ({ t: "hello", room: "lobby", incarnation: `shard-${shard}`, n: 1, acked: 0, clients: [], left: [], ...(batches ? { batches: true } : {}) });
    const open = (id: string) => ({ t: "open", seq: 1, id, socket: `${id}-socket`, uri: "http://host/parties/main/lobby", key: null, headers: [] });
    await core.onLinkFrame(newer, JSON.stringify(hello(1, true)));
    await core.onLinkFrame(older, JSON.stringify(hello(2, false)));
    await settle();
    newer.wires.length = 0;
    older.wires.length = 0;
    await core.onLinkFrame(newer, JSON.stringify(open("alice")));
    await core.onLinkFrame(older, JSON.stringify(open("bob")));
    await settle();
    // The open's ack as it is taken and, as the party's onConnect ran in the same turn, its state
    // and the tags the open brought as one keep, before its send: one link message (TURNS).
    assert.deepEqual(kinds(newer), ["ack+keep+send"]);
    assert.deepEqual(kinds(older), ["ack", "keep", "send"]);
    const keep = leaderFrames(unpack<LeaderFrame>(newer.wires[0]!))[1] as Extract<LeaderFrame, { t: "keep" }>;
    assert.deepEqual(keep.kept.state, { joined: true });
  });
});

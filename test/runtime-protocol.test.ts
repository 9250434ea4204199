import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { frameBytes, pack, packBatches, unpack } from "../src/runtime/link-frames.js";
import { decode, encode, type LeaderFrame, type RelayFrame, type ShardFrame } from "../src/runtime/protocol.js";

// What a browser's WebSocket receives from the party, unsharded: `send` converts anything but
// bytes to a string (WebIDL). Sharded, the frame to the shard must carry the same thing.
describe("a party's message crosses the link as the WebSocket would send it", () => {
  it("numbers, booleans, null and objects arrive as their string", () => {
    for (const value of [42, 0, -1.5, true, false, null, undefined, { a: 1 }]) {
      assert.deepEqual(decode(encode(value)), String(value), `send(${String(value)})`);
    }
  });

  it("text stays text and bytes stay bytes, views by their own window", () => {
    assert.equal(decode(encode("héllo 👋")), "héllo 👋");
    const buffer = new Uint8Array([0, 1, 2, 250, 255]).buffer;
    assert.deepEqual(new Uint8Array(decode(encode(buffer)) as ArrayBuffer), new Uint8Array([0, 1, 2, 250, 255]));
    const view = new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 4);
    assert.deepEqual(new Uint8Array(decode(encode(view)) as ArrayBuffer), new Uint8Array([8, 7, 6]));
    const dataView = new DataView(new Uint8Array([1, 2, 3, 4]).buffer, 2, 2);
    assert.deepEqual(new Uint8Array(decode(encode(dataView)) as ArrayBuffer), new Uint8Array([3, 4]));
  });
});

describe("a frame crosses the link as text, or with its bytes as bytes", () => {
  const roundTrip = (frame: LeaderFrame | ShardFrame) => unpack<LeaderFrame | ShardFrame>(pack(frame));
  const bytesOf = (data: unknown) => new Uint8Array(decode(data as Parameters<typeof decode>[0]) as ArrayBuffer);

  it("a frame of text only is the JSON it always was", () => {
    const frame: LeaderFrame = { t: "broadcast", data: encode("hi \"there\""), without: ["a"], upTo: 3 };
    assert.equal(pack(frame), JSON.stringify(frame));
    assert.deepEqual(roundTrip(frame), frame);
  });

  it("a message's bytes go as bytes: 2 MiB of binary is a frame of 2 MiB and a header, not 4/3 of it in base64", () => {
    const payload = new Uint8Array(2 * 1_048_576).map((_, i) => (i * 31) & 255);
    const frame: ShardFrame = { t: "message", seq: 7, id: "c é", data: encode(payload) };
    const wire = pack(frame);
    assert.ok(wire instanceof ArrayBuffer);
    assert.ok(wire.byteLength < payload.byteLength + 200, `${wire.byteLength} bytes on the wire`);
    assert.ok(Math.abs(frameBytes(frame) - wire.byteLength) < 64, "the size a frame is counted at is its size on the wire");
    const back = roundTrip(frame) as Extract<ShardFrame, { t: "message" }>;
    assert.deepEqual({ ...back, data: null }, { ...frame, data: null });
    assert.deepEqual(bytesOf(back.data), payload);
  });

  it("held broadcasts mixing text and bytes keep each item's own message, in order", () => {
    const frame: LeaderFrame = {
      t: "broadcasts",
      items: [
        { data: encode(new Uint8Array([1, 2, 3])), without: [], upTo: 1 },
        { data: encode("text between"), without: ["x"], upTo: 2 },
        { data: encode(new Uint8Array([250, 251]).buffer), without: [], upTo: 3 },
      ],
    };
    const back = roundTrip(frame) as Extract<LeaderFrame, { t: "broadcasts" }>;
    assert.deepEqual(bytesOf(back.items[0]!.data), new Uint8Array([1, 2, 3]));
    assert.equal(decode(back.items[1]!.data), "text between");
    assert.deepEqual(bytesOf(back.items[2]!.data), new Uint8Array([250, 251]));
    assert.deepEqual(back.items.map(({ without, upTo }) => [without, upTo]), [[[], 1], [["x"], 2], [[], 3]]);
  });

  it("a message's bytes are the sender's at send time: reusing its buffer afterwards changes nothing sent", () => {
    const buffer = new Uint8Array([1, 1, 1]);
    const data = encode(buffer);
    buffer.fill(9);
    const sent = unpack<ShardFrame>(pack({ t: "message", seq: 1, id: "a", data })) as Extract<ShardFrame, { t: "message" }>;
    assert.deepEqual(bytesOf(sent.data), new Uint8Array([1, 1, 1]));
  });

  it("frames a shard sends together keep each frame's own message, bytes as bytes; a lone frame goes as itself; a batch stays under its byte bound", () => {
    const entries = [
      { t: "message", seq: 1, id: "a", data: encode(new Uint8Array([5, 6])) },
      { t: "message", seq: 2, id: "b", data: encode("two") },
      { t: "close", seq: 3, id: "a", code: 1000, reason: "" },
    ].map((frame) => ({ frame: frame as RelayFrame, bytes: frameBytes(frame as RelayFrame) }));
    const [wire, ...rest] = packBatches(entries, 1_000);
    assert.equal(rest.length, 0);
    const back = unpack<ShardFrame>(wire!) as Extract<ShardFrame, { t: "frames" }>;
    assert.deepEqual(back.frames.map((frame) => frame.seq), [1, 2, 3]);
    assert.deepEqual(bytesOf((back.frames[0] as { data: unknown }).data), new Uint8Array([5, 6]));
    assert.equal(decode((back.frames[1] as { data: Parameters<typeof decode>[0] }).data), "two");
    assert.deepEqual(packBatches(entries.slice(1, 2), 1_000), [JSON.stringify(entries[1]!.frame)]);
    // Bound to two frames' bytes: the first two go together, the third alone.
    const bounded = packBatches(entries, entries[0]!.bytes + entries[1]!.bytes);
    assert.deepEqual(bounded.map((each) => (unpack<ShardFrame>(each).t === "frames" ? (unpack<ShardFrame>(each) as { frames: unknown[] }).frames.length : 1)), [2, 1]);
    // What the shard got of the leader's frames goes in the last message: after every frame before it.
    assert.deepEqual(packBatches(entries, entries[0]!.bytes + entries[1]!.bytes, 7).map((each) => (unpack<ShardFrame>(each) as { got?: number }).got), [undefined, 7]);
  });

  it("a frame that is neither text nor a binary frame is refused, not misread", () => {
    assert.throws(() => unpack(new Uint8Array([1]).buffer), /neither text nor a binary frame/);
  });
});

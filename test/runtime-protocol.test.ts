import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decode, encode } from "../src/runtime/protocol.js";

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

import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import { injectedFault } from "../src/runtime/protocol.js";

describe("injected faults (PARTY_SHARD_FAULT_PERCENT, tests and staging)", () => {
  it("never without the variable, never on a retry; with it, the first attempt always, then that share", () => {
    const warn = mock.method(console, "warn", () => {});
    try {
      const none = Array.from({ length: 50 }, () => injectedFault({}, false, "a frame"));
      assert.deepEqual(new Set(none), new Set([undefined]));
      const env = { PARTY_SHARD_FAULT_PERCENT: "1" };
      assert.equal(injectedFault(env, true, "a retried frame"), undefined);
      // At 1%, a short run would usually meet none: the first attempt fails all the same.
      assert.notEqual(injectedFault(env, false, "the first frame"), undefined);
      const later = Array.from({ length: 20 }, () => injectedFault(env, false, "a frame")).filter(Boolean).length;
      assert.ok(later < 20, `${later} of 20 later attempts failed at 1%`);
      assert.match(String(warn.mock.calls[0]?.arguments[0]), /^party-shard: injected fault (before|after) the first frame$/);
    } finally {
      warn.mock.restore();
    }
  });
});

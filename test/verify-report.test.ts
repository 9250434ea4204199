import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ProbeResult } from "../src/infra/delivery-probe.js";
import { renderReport, verifyNext, type VerifyOutcome, type VerifyRun } from "../src/commands/verify-report.js";
import type { VerifyTarget } from "../src/platforms/adapter.js";
import { decidePalette } from "../src/ui/colour.js";

// What each verdict reads like, without a dev server: the runs are made up, the wording is verify's.
const target: VerifyTarget = { platform: "partykit", root: "/app", devServer: "partykit dev", router: "router", party: { name: "main", file: "src/main.ts", url: "main" }, shards: 4, parties: ["main", "router"], start: () => assert.fail() };
const options = { clients: 3, messages: 10, payload: undefined, router: undefined, setup: [], count: "auto" as const, compare: true };

function result(delivered: number, extra: Partial<ProbeResult> = {}): ProbeResult {
  const expected = 2 * 10;
  return {
    listeners: 2, messages: 10, counted: "token", deliveryRatio: delivered / expected, lost: expected - delivered, duplicates: 0, publishFailures: 0, failureReasons: [],
    statuses: { 200: 10 }, frames: { total: delivered, beforeWrites: 0, sample: [] }, latencyMs: { p50: null, p99: null }, ...extra,
  };
}

function outcome(sharded: Partial<VerifyRun>, unsharded?: Partial<VerifyRun>, partyErrors: string[] = []): VerifyOutcome {
  const ok = sharded.result?.lost === 0 && sharded.result.duplicates === 0;
  return { ok, target, options, partyErrors, sharded: { sharded: true, setup: [], ...sharded }, ...(unsharded ? { unsharded: { sharded: false, setup: [], ...unsharded } } : {}) };
}

describe("verify's verdict beside the unsharded run", () => {
  it("a loss only when sharded is sharding's", () => {
    assert.match(verifyNext(outcome({ result: result(12) }, { result: result(20) })), /^sharding loses or repeats what the app delivers unsharded: npx party-shard check/);
    assert.match(verifyNext(outcome({ result: result(20, { duplicates: 3 }) }, { result: result(20) })), /^sharding loses or repeats/);
  });

  it("the same loss unsharded is the probe's, with what to change", () => {
    assert.match(verifyNext(outcome({ result: result(0) }, { result: result(0) })), /^no client received anything after a write; the app does the same unsharded, so the probe does not fit it\. Pass --payload/);
    assert.match(verifyNext(outcome({ result: result(0) }, { result: result(0) }, ["Error: unknown message kind"])), /^the party threw on the probe's writes \(party logged, above\); the app does the same unsharded/);
    assert.match(verifyNext(outcome({ result: result(10) }, { result: result(10) })), /^the app loses these writes unsharded too/);
  });

  it("a failed setup request: nothing measured, the request and its answer named", () => {
    const failed = { source: "--setup #1", method: "POST", path: "/parties/router/r1", status: 404, body: "no such route" };
    const text = renderReport(outcome({ setup: [failed] }, { setup: [{ ...failed, path: "/parties/main/r1-direct" }] }), decidePalette(true).stdout);
    assert.match(text, /setup +404 POST \/parties\/router\/\{room\} +404 POST \/parties\/main\/\{room\}/);
    assert.doesNotMatch(text, /delivery/);
    assert.match(text, /--setup #1 \(sharded\) +404: no such route/);
    assert.match(text, /Next: the setup request --setup #1 answered 404: make it succeed on your app/);
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { DELIVERIES_PER_SECOND, MEASURED } from "../src/core/capacity/measured.js";
import { planRoom } from "../src/core/capacity/room-plan.js";
import { capacityFindings, parseSavedPlan, renderSavedPlan } from "../src/core/capacity/saved-plan.js";
import { PartyShardError } from "../src/errors.js";

const docs = (name: string) => readFileSync(path.join(import.meta.dirname, "..", "docs", name), "utf8");
const byLimit = (checks: { limit: string; load: number }[]) => Object.fromEntries(checks.map((check) => [check.limit, Math.round(check.load)]));

describe("plan's arithmetic against the hand calculation in docs/plan.md", () => {
  it("2,000 clients at 0.1 message a second each, to everyone, on their sockets: 5 shards of 400, deliveries binding", () => {
    const plan = planRoom({ connections: 2_000, messagesPerClientPerSecond: 0.1, fanout: "everyone", messageBytes: 200, writes: "socket" });
    assert.equal(plan.roomMessagesPerSecond, 200);
    // R·n = 200 · 2,000 = 400,000 deliveries a second; ÷ 97,941 → 4.08 → 5 shards.
    assert.deepEqual([plan.sharded.shards, plan.sharded.target, plan.sharded.binding.limit, plan.sharded.fits], [5, 400, "deliveries", true]);
    // events a shard: 200 / 5 + 200 · 0.08 / 4 = 40 + 4 = 44; leader: 200 · 0.09 = 18.
    assert.deepEqual(byLimit(plan.sharded.checks), { sockets: 400, events: 44, deliveries: 80_000, "leader events": 18 });
    assert.deepEqual(byLimit(plan.unsharded.checks), { sockets: 2_000, events: 200, deliveries: 400_000 });
    assert.equal(plan.unsharded.fits, false);
  });

  it("50,000 clients at 10 a second each, to everyone, routed: no shard count carries it, the leader binds at 60,000 events a second", () => {
    const plan = planRoom({ connections: 50_000, messagesPerClientPerSecond: 10, fanout: "everyone", messageBytes: 200, writes: "routed" });
    assert.equal(plan.roomMessagesPerSecond, 500_000);
    assert.equal(plan.sharded.fits, false);
    assert.equal(plan.sharded.binding.limit, "leader events");
    assert.equal(Math.round(plan.sharded.binding.load), 60_000);
    assert.equal(plan.sharded.shards, 256, "the most init makes, since the shards' own limits are not met either");
    assert.ok(plan.cost.sharded.usd.total > plan.cost.unsharded.usd.total);
    assert.match(plan.warnings.join("\n"), /257 subrequests/);
  });

  it("a quiet big room: sockets bind, 20,000 clients need 2 shards of 10,000 at most", () => {
    const plan = planRoom({ connections: 20_000, messagesPerClientPerSecond: 0, fanout: "sender", messageBytes: 100, writes: "socket" });
    assert.deepEqual([plan.sharded.shards, plan.sharded.binding.limit, plan.unsharded.fits], [2, "sockets", true]);
  });
});

describe("the measured counts plan computes from are the benchmark's printed ones", () => {
  it("docs/cost.md's lines, as bench:scale printed them", () => {
    const cost = docs("cost.md");
    for (const [writes, line] of [["routed", /POSTs \/ write 1 \(measured.*$/m], ["socket", /writes on the clients' sockets.*$/m]] as const) {
      const text = line.exec(cost)?.[0] ?? "";
      const counts = MEASURED[writes];
      const shardRequests = writes === "routed" ? `shard requests / POST ${counts.shardRequestsPerPost!.toFixed(2)}; ` : "";
      const expected = `${shardRequests}leader events / write ${counts.leaderEventsPerWrite!.toFixed(2)}; link frames / write: in ${counts.linkFramesInPerWrite!.toFixed(2)}, out ${counts.linkFramesOutPerWrite!.toFixed(2)}; link frames / connect: in ${counts.linkFramesInPerConnect!.toFixed(2)}, out ${counts.linkFramesOutPerConnect!.toFixed(2)}; storage ops / write ${counts.storageOpsPerWrite!.toFixed(2)}, / connect ${counts.storageOpsPerConnect!.toFixed(2)}`;
      assert.ok(text.includes(expected), `${writes}: docs/cost.md says\n${text}\nmeasured.ts says\n${expected}`);
    }
  });

  it("deliveries a second: the direct room's row of docs/benchmarks.md", () => {
    const row = /^\| wrangler dev \| direct +\| — +\| 1000 +\| 20 +\| [^|]+\| [^|]+\| [^|]+\| [^|]+\| ([\d.]+) s/m.exec(docs("benchmarks.md"));
    assert.ok(row, "the direct wrangler dev row");
    assert.equal(DELIVERIES_PER_SECOND, Math.round((100 * 999) / Number(row[1])));
  });
});

describe("the saved plan, and check's warnings from it", () => {
  const saved = { connections: 2_000, messagesPerClientPerSecond: 0.1, fanout: "everyone" as const, messageBytes: 200, writes: "socket" as const };

  it("reads back what plan --save writes", () => {
    assert.deepEqual(parseSavedPlan(renderSavedPlan(saved)), saved);
  });

  for (const [text, why] of [
    ["{", /is not JSON/],
    ["[]", /is not an object/],
    [JSON.stringify({ ...saved, connections: -1 }), /"connections": -1; it must be a whole number from 1/],
    [JSON.stringify({ ...saved, fanout: "some" }), /"fanout": "some"/],
    [JSON.stringify({ ...saved, writes: undefined }), /"writes": missing/],
    [" ".repeat(5_000), /larger than 4096 bytes/],
  ] as const) {
    it(`refuses ${text.slice(0, 30).trim() || "a huge file"}: exit 2, the file and the field named`, () => {
      assert.throws(
        () => parseSavedPlan(text),
        (error: unknown) => error instanceof PartyShardError && error.exitCode === 2 && error.location?.file === "party-shard.plan.json" && why.test(error.message),
      );
    });
  }

  it("a router of 2 shards under a plan that needs 5: a warning with the init command that fits it", () => {
    const findings = capacityFindings(2, "socket", saved);
    assert.deepEqual(findings.map((finding) => finding.code), ["plan-needs-more-shards"]);
    assert.match(findings[0]!.message, /at most 2 shards; the room in party-shard.plan.json needs 5 \(deliveries binds first\): npx party-shard init --shards 5 --shard-target 400/);
    assert.deepEqual(capacityFindings(5, "socket", saved), []);
  });

  it("a plan no shard count carries, and the Free plan's 50 subrequests", () => {
    const codes = capacityFindings(64, "routed", { ...saved, connections: 50_000, messagesPerClientPerSecond: 10, writes: "routed" }).map((finding) => finding.code);
    assert.deepEqual(codes, ["free-plan-subrequests", "plan-not-carried"]);
    assert.deepEqual(capacityFindings(49, "routed", undefined), []);
    assert.deepEqual(capacityFindings(50, "socket", undefined), []);
    assert.equal(capacityFindings(50, "routed", undefined)[0]?.code, "free-plan-subrequests");
  });
});

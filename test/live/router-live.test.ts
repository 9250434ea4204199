import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startPartykitDev, type PartykitDev } from "../../src/infra/partykit-dev.js";
import { runDeliveryProbe } from "../../src/infra/delivery-probe.js";
import { PARTYKIT_BIN, copyProject, runCli } from "../helpers/cli.js";

const CLIENTS = 20;
const MESSAGES = 100;
const SHARDS = 4;

for (const failPercent of [0, 20]) {
  describe(`generated router on partykit dev, ${failPercent}% of first shard attempts failing`, () => {
    let server: PartykitDev | undefined;

    before(async () => {
      const project = copyProject("broadcast");
      const init = await runCli(["init", "--yes", "--shards", String(SHARDS)], project);
      assert.equal(init.exitCode, 0, init.stderr);
      server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN, vars: { FAIL_PERCENT: String(failPercent) } });
    });
    after(() => server?.stop());

    it(`delivers each of ${MESSAGES} POSTs exactly once to each of ${CLIENTS} clients`, async () => {
      let retried = 0;
      const result = await runDeliveryProbe({
        host: server!.host,
        party: "router",
        room: `live-${failPercent}`,
        clients: CLIENTS,
        messages: MESSAGES,
        onPublished: (_seq, status, body) => {
          assert.equal(status, 200, body);
          const report = JSON.parse(body) as { shards: { attempts: number }[] };
          retried += report.shards.filter((shard) => shard.attempts > 1).length;
        },
      });
      assert.equal(result.lost, 0);
      assert.equal(result.duplicates, 0);
      assert.equal(result.deliveryRatio, 1);
      assert.equal(result.publishFailures, 0);
      assert.deepEqual(Object.values(result.clientsPerRoom), Array(SHARDS).fill(CLIENTS / SHARDS));
      const deliveries = MESSAGES * SHARDS;
      if (failPercent === 0) assert.equal(retried, 0);
      // The injected failures really happened, and the router retried them.
      else assert.ok(retried > deliveries * 0.1 && retried < deliveries * 0.3, `retried ${retried} of ${deliveries}`);
    });
  });
}

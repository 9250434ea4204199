import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { PartySocket } from "partysocket";
import { startPartykitDev, type PartykitDev } from "../../src/infra/partykit-dev.js";
import { readShardLoad, runDeliveryProbe } from "../../src/infra/delivery-probe.js";
import { PARTYKIT_BIN, copyProject, runCli } from "../helpers/cli.js";
import { sleep, until } from "../helpers/wait.js";

const CLIENTS = 20;
const MESSAGES = 100;
const SHARDS = 4;

// The fixture party broadcasts every POST body from its onRequest; with FAIL_PERCENT set it
// answers that share of first attempts 503, which the router must retry.
for (const failPercent of [0, 20]) {
  describe(`generated router on partykit dev, ${failPercent}% of first attempts to the room failing`, () => {
    let server: PartykitDev | undefined;

    before(async () => {
      const project = copyProject("broadcast");
      for (const args of [["init", "--yes", "--shards", String(SHARDS), "--shard-target", "1"], ["migrate", "--yes"]]) {
        const result = await runCli(args, project);
        assert.equal(result.exitCode, 0, result.stderr);
      }
      server = await startPartykitDev({ cwd: project, bin: PARTYKIT_BIN, vars: { FAIL_PERCENT: String(failPercent) } });
    });
    after(() => server?.stop());

    it(`delivers each of ${MESSAGES} POSTs to the room exactly once to each of ${CLIENTS} clients on ${SHARDS} shards`, async () => {
      const result = await runDeliveryProbe({
        host: server!.host,
        party: "router",
        router: "router",
        viewToken: server!.viewToken,
        room: `live-${failPercent}`,
        publish: { kind: "request", party: "router" },
        clients: CLIENTS,
        messages: MESSAGES,
        onPublished: (_seq, status, body) => assert.equal(status, 200, body),
      });
      assert.equal(result.lost, 0);
      assert.equal(result.duplicates, 0);
      assert.equal(result.deliveryRatio, 1);
      assert.deepEqual(result.shardLoad, Array(SHARDS).fill(CLIENTS / SHARDS));
      // The leader sent one frame per shard per broadcast, never one per client.
      const view = (await (await fetch(`http://${server!.host}/parties/router/live-${failPercent}`, { headers: { "x-party-shard-view-token": server!.viewToken } })).json()) as { leader: { broadcasts: number; shardFrames: number } };
      assert.equal(view.leader.broadcasts, MESSAGES);
      assert.equal(view.leader.shardFrames, MESSAGES * SHARDS);
      // The injected failures really happened (the fixture logs each), and were retried away.
      const injected = server!.output().match(/injected failure/g)?.length ?? 0;
      if (failPercent === 0) assert.equal(injected, 0);
      // 20% of 100 is binomial: 11 to 29 missed 1 run in ~60 (10 came up in CI); 5 to 40 misses 1 in ~200,000.
      else assert.ok(injected >= MESSAGES * 0.05 && injected <= MESSAGES * 0.4, `${injected} of ${MESSAGES} first attempts failed`);
    });

    if (failPercent === 0) {
      it("a shard whose last client left takes new clients at once", async () => {
        const room = "emptied";
        const join = () => {
          const inbox: string[] = [];
          const socket = new PartySocket({ host: server!.host, party: "router", room, id: "again", WebSocket: WebSocket as never });
          socket.addEventListener("message", (event) => inbox.push(String(event.data)));
          return { socket, inbox, opened: new Promise((resolve) => socket.addEventListener("open", resolve, { once: true })) };
        };
        const first = join();
        await first.opened;
        await until(async () => first.inbox.length > 0, 5_000); // its welcome: the leader knows it
        first.socket.close();
        await until(async () => (await readShardLoad(server!.host, "router", room, server!.viewToken))?.reduce((a, b) => a + b) === 0, 5_000);
        await sleep(500);
        const second = join(); // the same id: sticky placement puts it on the emptied shard
        try {
          await second.opened;
          const response = await fetch(`http://${server!.host}/parties/router/${room}`, { method: "POST", body: "after-empty" });
          assert.equal(response.status, 200, await response.text());
          await until(async () => second.inbox.includes("after-empty"), 5_000);
          assert.ok(second.inbox.includes("after-empty"), `the rejoined client got ${JSON.stringify(second.inbox)}`);
        } finally {
          second.socket.close();
        }
      });

      it("1,000 sockets at once land within 1.05 of even: the edge counts its own placements", async () => {
        const room = "burst";
        const sockets = Array.from({ length: 1_000 }, (_, i) => new WebSocket(`ws://${server!.host}/parties/router/${room}?_pk=burst-${i}`));
        try {
          const opened = await Promise.all(sockets.map((socket) => new Promise<boolean>((resolve) => (socket.once("open", () => resolve(true)), socket.once("error", () => resolve(false))))));
          assert.equal(opened.filter(Boolean).length, 1_000);
          await until(async () => (await readShardLoad(server!.host, "router", room, server!.viewToken))?.reduce((a, b) => a + b) === 1_000, 20_000);
          const load = (await readShardLoad(server!.host, "router", room, server!.viewToken))!;
          assert.equal(load.reduce((a, b) => a + b), 1_000, `${load}`);
          assert.ok(Math.max(...load) / (1_000 / SHARDS) <= 1.05, `${load}`);
        } finally {
          sockets.forEach((socket) => socket.close());
        }
      });

      it("answers its load view after its room was evicted for being idle, and closes go down", async () => {
        const room = "evicted";
        const sockets = Array.from({ length: 8 }, (_, i) => new PartySocket({ host: server!.host, party: "router", room, id: `idle-${i}`, WebSocket: WebSocket as never }));
        try {
          await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }))));
          const before = (await (await fetch(`http://${server!.host}/parties/router/${room}`, { headers: { "x-party-shard-view-token": server!.viewToken } })).json()) as { load: number[]; since: number };
          assert.deepEqual(before.load, [2, 2, 2, 2]);
          // Nothing reaches the router's room for longer than partykit dev keeps an idle room.
          await sleep(13_000);
          const afterIdle = (await (await fetch(`http://${server!.host}/parties/router/${room}`, { headers: { "x-party-shard-view-token": server!.viewToken } })).json()) as { load: number[]; since: number };
          assert.notEqual(afterIdle.since, before.since, "the router's room was not evicted; the test proves nothing");
          assert.deepEqual(afterIdle.load, [2, 2, 2, 2]);
          sockets.slice(0, 4).forEach((socket) => socket.close());
          await until(async () => (await readShardLoad(server!.host, "router", room, server!.viewToken))?.reduce((a, b) => a + b) === 4, 5_000);
          assert.equal((await readShardLoad(server!.host, "router", room, server!.viewToken))?.reduce((a, b) => a + b), 4);
        } finally {
          sockets.forEach((socket) => socket.close());
        }
      });
    }
  });
}

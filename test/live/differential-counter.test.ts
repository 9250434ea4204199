import assert from "node:assert/strict";
import type { join } from "../fixtures/differential/counter/app/client.js";
import { CLIENTS, OLD_BUNDLE, clientId, describeDifferential, type Message } from "../helpers/differential.js";

type CounterClient = ReturnType<typeof join>;

/** Increments made before migration; every run must start from them. */
const SEEDED = 3;
const LIMIT = 3;

describeDifferential<CounterClient>("differential: counter (class party, storage kept across migration, attachments, side effects)", {
  fixture: "counter",
  room: "tally",

  async seed(run) {
    const client = await run.join(0);
    await run.everyoneLast("the seed client's arrival", { type: "online", n: 1 });
    for (let count = 1; count <= SEEDED; count++) {
      client.increment();
      await run.everyoneLast(`seed increment ${count}`, { type: "count", count });
    }
    run.leave(0);
  },

  async script(run) {
    for (let i = 0; i < CLIENTS; i++) {
      await run.join(i);
      await run.everyoneLast(`${clientId(i)}'s arrival`, { type: "online", n: i + 1 });
    }
    await run.checkShardLoad();

    let count = SEEDED;
    const increment = async (i: number) => {
      run.client(i).increment();
      count += 1;
      await run.everyoneLast(`${clientId(i)}'s increment to ${count}`, { type: "count", count, by: clientId(i) });
    };
    for (const i of [0, 5, OLD_BUNDLE, 16]) await increment(i);

    // The allowance lives in the connection's attachment: the fourth increment is refused.
    for (let k = 0; k < LIMIT; k++) await increment(2);
    run.client(2).increment();
    await run.everyoneLast("c02's refused increment", { type: "limited" }, [2]);

    run.client(7).ping(1);
    await run.everyoneLast("c07's pong", { type: "pong", n: 1 }, [7]);
    run.client(OLD_BUNDLE).ping(2);
    await run.everyoneLast("the old bundle's pong", { type: "pong", n: 2 }, [OLD_BUNDLE]);

    await run.request("read");
    await run.request("add 10 directly", { amount: 10 });
    count += 10;
    await run.everyoneLast("the direct add", { type: "count", count, by: "http" });
    await run.postViaRouter("add 100 through the router", { amount: 100 });
    count += 100;
    await run.everyoneLast("the routed add", { type: "count", count, by: "http" });

    for (const i of [3, OLD_BUNDLE, 12]) {
      run.leave(i);
      await run.everyoneLast(`${clientId(i)}'s departure`, { type: "online", n: run.present().length });
    }
    await run.request("read after departures");
  },

  check(observations) {
    const welcome = observations.clients.c00![0] as Message;
    assert.deepEqual(welcome, { type: "welcome", you: "c00", count: SEEDED, online: 1 }, "the count from before migration");
    // One outside call per accepted increment or add, never repeated.
    const calls = observations.sink.map((call) => (call as Message).by);
    assert.deepEqual(calls, ["c00", "c05", "c08", "c16", "c02", "c02", "c02", "http", "http"]);
  },
});

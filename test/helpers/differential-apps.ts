import assert from "node:assert/strict";
import type * as CounterApp from "../fixtures/differential/counter/app/client.js";
import type * as PollApp from "../fixtures/differential/poll/app/client.js";
import { CLIENTS, OLD_BUNDLE, clientId, type DifferentialApp, type Message, type Run } from "./differential.js";

/**
 * The differential scripts, shared by both platforms: each app's PartyKit and PartyServer twins
 * have the same client API (app/client.ts), so one script drives either.
 */

export type CounterClient = ReturnType<typeof CounterApp.join>;
export type PollClient = ReturnType<typeof PollApp.join>;
type Script<C extends CounterClient | PollClient> = Pick<DifferentialApp<C>, "seed" | "script" | "check">;

/** Increments made before migration; every run must start from them. */
const SEEDED = 3;
const LIMIT = 3;

/** The counter: a class party, storage kept across migration, per-connection allowance, side effects. */
export const counter: Script<CounterClient> = {
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

    // The allowance lives in the connection's attachment (state): the fourth increment is refused,
    // also after a quiet spell in which a hibernating room may be evicted (run.quiet).
    for (let k = 0; k < LIMIT; k++) await increment(2);
    await run.quiet();
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
};

/** The poll: HTTP-created rounds with random ids, votes checked against connection state. */
export const poll: Script<PollClient> = {
  async script(run) {
    for (let i = 0; i < CLIENTS; i++) {
      await run.join(i);
      await run.everyoneLast(`${clientId(i)}'s welcome`, { type: "welcome", you: clientId(i) }, [i]);
    }
    await run.checkShardLoad();

    const first = await run.request("create the first poll", { question: "Lunch?", options: ["pizza", "sushi", "salad"] });
    const round1 = roundOf(first.body);
    await run.everyoneLast("the first poll", { type: "poll", round: round1 });
    const tally = [0, 0, 0];
    for (const [i, option] of [[0, 0], [1, 1], [4, 1], [OLD_BUNDLE, 2], [13, 0], [16, 1]] as const) {
      await vote(run, i, round1, option, tally);
    }
    await refused(run, 1, round1, 0, "already voted");
    await refused(run, OLD_BUNDLE, round1, 0, "already voted");
    await refused(run, 9, crypto.randomUUID(), 0, "wrong round");
    await refused(run, 10, round1, 7, "no such option");
    await run.request("read the first poll");

    // A client that comes back is welcomed with the poll as it stands, and may vote afresh.
    run.leave(5);
    await run.join(5);
    await run.everyoneLast("c05's second welcome", { type: "welcome", you: "c05", poll: { round: round1, question: "Lunch?", options: ["pizza", "sushi", "salad"], votes: [...tally] } }, [5]);
    await vote(run, 5, round1, 2, tally);

    const second = await run.postViaRouter("create the second poll through the router", { question: "Dessert?", options: ["cake", "fruit"] });
    const round2 = roundOf(second.body);
    await run.everyoneLast("the second poll", { type: "poll", round: round2 });
    await refused(run, 3, round1, 0, "wrong round");
    const tally2 = [0, 0];
    for (const [i, option] of [[1, 1], [OLD_BUNDLE, 0], [3, 0]] as const) await vote(run, i, round2, option, tally2);
    await run.request("read the second poll");
  },

  check(observations) {
    // Two server-made rounds, then the test's own wrong one; each new poll has a fresh id.
    const rounds = observations.http.filter(({ label }) => label.startsWith("create")).map(({ status, body }) => ({ status, body }));
    assert.deepEqual(rounds, [
      { status: 201, body: { round: "<round-1>" } },
      { status: 201, body: { round: "<round-2>" } },
    ]);
  },
};

async function vote(run: Run<PollClient>, i: number, round: string, option: number, tally: number[]) {
  run.client(i).vote(round, option);
  tally[option]! += 1;
  await run.everyoneLast(`${clientId(i)}'s vote`, { type: "tally", round, votes: [...tally] });
}

async function refused(run: Run<PollClient>, i: number, round: string, option: number, reason: string) {
  run.client(i).vote(round, option);
  await run.everyoneLast(`${clientId(i)}'s vote refused (${reason})`, { type: "rejected", reason, round }, [i]);
}

function roundOf(body: unknown): string {
  const round = (body as { round?: unknown } | null)?.round;
  assert.equal(typeof round, "string", `no round in ${JSON.stringify(body)}`);
  return round as string;
}

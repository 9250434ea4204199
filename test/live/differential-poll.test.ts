import assert from "node:assert/strict";
import type { join } from "../fixtures/differential/poll/app/client.js";
import { CLIENTS, OLD_BUNDLE, clientId, describeDifferential, type Run } from "../helpers/differential.js";

type PollClient = ReturnType<typeof join>;

describeDifferential<PollClient>("differential: poll (object-style party, HTTP-created rounds, connection state)", {
  fixture: "poll",
  room: "lunch",

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
});

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

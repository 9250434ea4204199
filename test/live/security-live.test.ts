import assert from "node:assert/strict";
import { it } from "node:test";
import { rawRequest } from "../helpers/raw-http.js";
import { SETTLE_MS, SHARDS, describeSecurity } from "../helpers/security.js";
import { sleep, sum, until } from "../helpers/wait.js";

// The attacks both platforms face are test/helpers/security.ts's; here, partykit dev's own.
describeSecurity("attacks on the router of a party with its own auth, after init + migrate, on one partykit dev", "partykit", ({ host, refusal, opened, load }) => {
  // partykit dev hands a POST carrying `Upgrade: websocket` to onBeforeConnect as a GET, so the
  // router cannot refuse it by method there (deployed, it answers 400); such a request is never a
  // connection that counts, and leaves no weight on placement.
  it("counts no phantom load: upgrade POSTs never count, a refused handshake counts nothing, real sockets count while open", async () => {
    const room = "phantom";
    const upgrades = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const head = [`POST /parties/router/${room}?token=good&_pk=phantom-${i} HTTP/1.1`, `Host: ${host()}`, "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", "Content-Length: 0"];
        return rawRequest(host(), head.join("\r\n"));
      }),
    );
    // Nothing must count: the quiet time in which a load report would arrive.
    await sleep(SETTLE_MS);
    assert.deepEqual(await load(room), Array(SHARDS).fill(0));
    assert.deepEqual(await refusal(`ws://${host()}/parties/router/${room}?_pk=no-token`), { status: 401, body: "no token" });
    await sleep(SETTLE_MS);
    assert.deepEqual(await load(room), Array(SHARDS).fill(0));

    const sockets = await Promise.all([0, 1, 2, 3].map((i) => opened(`ws://${host()}/parties/router/${room}?token=good&_pk=load-${i}`)));
    await until(async () => sum(await load(room)) === 4, 5_000);
    // One a shard: nothing the upgrade POSTs left behind weighs on placement.
    assert.deepEqual(await load(room), Array(SHARDS).fill(1));
    for (const socket of sockets) socket.close();
    await until(async () => sum(await load(room)) === 0, 5_000);
    assert.deepEqual(await load(room), Array(SHARDS).fill(0));
    // Last, so the load is checked whatever the status: never a switch to a counted socket.
    for (const answer of upgrades) assert.ok(answer.status === 400 || answer.status >= 500, `${answer.head}\n${answer.body}`);
  });
});

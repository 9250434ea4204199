import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { startPartykitDev } from "../src/infra/partykit-dev.js";
import { tempDir } from "./helpers/temp.js";

/**
 * A stand-in `partykit` that logs each start to runs.log. `silentFirst`: its first start prints
 * nothing and never serves (a start that is stuck); `never`: it prints, then never serves. `never`
 * is a shell script: it must print well within the silent-start time, and Node's own start on a
 * loaded 2-core machine can take longer than that (CI saw a second start because of it).
 */
function fakePartykit(behaviour: "silentFirst" | "never"): { bin: string; runs: () => number } {
  const dir = tempDir("fake-partykit");
  const bin = path.join(dir, "partykit");
  const log = path.join(dir, "runs.log");
  writeFileSync(
    bin,
    behaviour === "never"
      ? `#!/bin/sh
echo run >> ${JSON.stringify(log)}
echo booting
exec sleep 1000
`
      : `#!/usr/bin/env node
const fs = require("node:fs");
const http = require("node:http");
const log = ${JSON.stringify(log)};
const first = !fs.existsSync(log);
fs.appendFileSync(log, "run\\n");
if (first) setInterval(() => {}, 1000);
else {
  const port = Number(process.argv[process.argv.indexOf("--port") + 1]);
  http.createServer((req, res) => res.end("ok")).listen(port, "127.0.0.1", () => console.log("Ready on http://127.0.0.1:" + port));
}
`,
  );
  chmodSync(bin, 0o755);
  return { bin, runs: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0) };
}

describe("starting partykit dev", () => {
  it("stops a process that printed nothing within the silent-start time and starts one fresh process", async () => {
    const fake = fakePartykit("silentFirst");
    const server = await startPartykitDev({ cwd: path.dirname(fake.bin), bin: fake.bin, silentStartMs: 500, readyTimeoutMs: 10_000 });
    try {
      assert.equal(fake.runs(), 2);
      assert.match(server.output(), /Ready on/);
    } finally {
      await server.stop();
    }
  });

  it("does not start again a process that printed something: it fails when its ready time is up", async () => {
    const fake = fakePartykit("never");
    await assert.rejects(startPartykitDev({ cwd: path.dirname(fake.bin), bin: fake.bin, silentStartMs: 1_000, readyTimeoutMs: 2_500 }), /partykit dev did not become ready/);
    assert.equal(fake.runs(), 1);
  });
});

import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { copyDemoApp, runCli, snapshotTree } from "../helpers/cli.js";

describe("migrate --writes", () => {
  it("an unknown mode is exit 2 with the modes named, and nothing is written", async () => {
    const project = copyDemoApp();
    try {
      const init = await runCli(["init", "--yes", "--shards", "2"], project);
      assert.equal(init.exitCode, 0, init.stderr);
      const before = snapshotTree(project);
      const result = await runCli(["migrate", "--yes", "--writes", "pipelined"], project);
      assert.equal(result.exitCode, 2);
      assert.match(result.stderr, /--writes must be one of routed, socket; got "pipelined"/);
      assert.deepEqual(snapshotTree(project), before);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });

  for (const [mode, label, send] of [
    ["socket", "socket.send(text)", /\bsocket\.send\(text\)/],
    ["routed", "void sendViaRouter(socket, text)", /^\s*void sendViaRouter\(socket, text\);$/m],
  ] as const) {
    it(`--writes ${mode}: the socket goes through the router with a key, and its send is ${label}`, async () => {
      const project = copyDemoApp();
      try {
        for (const args of [["init", "--yes", "--shards", "2"], ["migrate", "--yes", "--writes", mode]]) {
          const result = await runCli(args, project);
          assert.equal(result.exitCode, 0, result.stderr);
        }
        const client = readFileSync(path.join(project, "app", "chat-client.ts"), "utf8");
        assert.match(client, /party: "router", query: shardKey\(\)/);
        assert.match(client, send);
        if (mode === "routed") {
          // Migrating again changes nothing, and check counts the void-marked call as routed.
          const before = snapshotTree(project);
          const again = await runCli(["migrate", "--yes"], project);
          assert.equal(again.exitCode, 0, again.stderr);
          assert.deepEqual(snapshotTree(project), before);
          const check = await runCli(["check"], project);
          assert.equal(check.exitCode, 0, `${check.stdout}\n${check.stderr}`);
        }
      } finally {
        rmSync(project, { recursive: true, force: true });
      }
    });
  }
});

describe("check --writes", () => {
  it("after migrate --writes socket, check counts each socket.send as work left unless told --writes socket; a bad mode is exit 2", async () => {
    const project = copyDemoApp();
    try {
      for (const args of [["init", "--yes", "--shards", "2"], ["migrate", "--yes", "--writes", "socket"]]) {
        const result = await runCli(args, project);
        assert.equal(result.exitCode, 0, result.stderr);
      }
      const routed = await runCli(["check"], project);
      assert.equal(routed.exitCode, 1, routed.stdout);
      assert.match(routed.stdout, /app\/chat-client\.ts:\d+:\d+ +socket\.send is not routed yet/);
      const socket = await runCli(["check", "--writes", "socket"], project);
      assert.equal(socket.exitCode, 0, socket.stdout + socket.stderr);
      assert.match(socket.stdout, /party-shard check: fully sharded/);
      const bad = await runCli(["check", "--writes", "both"], project);
      assert.equal(bad.exitCode, 2);
      assert.match(bad.stderr, /--writes must be one of routed, socket; got "both"/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});

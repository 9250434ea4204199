import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { createProgressLine, describe as describeProgress } from "../../src/ui/progress-line.js";
import { CLI, copyDemoApp, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/temp.js";

const ERASE = "\r\x1b[2K";

describe("progress line", () => {
  it("rewrites one line, at most every 80 ms within a phase, and always on a phase change", () => {
    const written: string[] = [];
    let clock = 0;
    const line = createProgressLine({ write: (text: string) => written.push(text) > 0 }, () => clock);
    line.update({ phase: "scan", files: 1 });
    clock = 50;
    line.update({ phase: "scan", files: 500 });
    clock = 90;
    line.update({ phase: "scan", files: 900 });
    clock = 95;
    line.update({ phase: "analyse", done: 1, total: 3, sites: 2 });
    line.clear();
    assert.deepEqual(written, [
      `${ERASE}scanning files: 1 read`,
      `${ERASE}scanning files: 900 read`,
      `${ERASE}analysing: 1/3 files, 2 socket sites found`,
      ERASE,
    ]);
  });

  it("clear writes nothing when nothing was shown", () => {
    const written: string[] = [];
    createProgressLine({ write: (text: string) => written.push(text) > 0 }).clear();
    assert.deepEqual(written, []);
  });

  it("says how many files can hold a socket while parsing them", () => {
    assert.equal(describeProgress({ phase: "parse", done: 12, total: 240, files: 21040 }), "parsing 240 of 21,040 files that can hold a socket: 12");
  });
});

describe("progress on the command line", () => {
  it("is never written without a terminal", async () => {
    const dir = copyDemoApp();
    assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
    const result = await runCli(["check"], dir);
    assert.equal(result.exitCode, 1, result.stderr);
    assert.match(result.stdout, /app\/chat-client\.ts:\d+:\d+/);
    assert.doesNotMatch(result.stderr + result.stdout, /scanning files|\x1b\[2K/);
  });

  // util-linux `script` gives the CLI a pseudo-terminal, as a user's shell would.
  it("is shown on a terminal and erased before the report", { skip: !existsSync("/usr/bin/script") && "needs util-linux script" }, async () => {
    const dir = copyDemoApp();
    assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
    const transcript = path.join(tempDir("tty"), "out");
    await execa("script", ["-qec", `${process.execPath} ${CLI} check`, transcript], { cwd: dir, env: { FORCE_COLOR: "0" }, reject: false, stdin: "ignore" });
    const output = readFileSync(transcript, "utf8");
    assert.match(output, /scanning files: \d+ read/);
    assert.match(output, /analysing: \d+\/\d+ files, \d+ socket sites found/);
    // The report starts on an erased line, not after the progress text.
    assert.match(output, /\r\x1b\[2K(\r\x1b\[2K)?app\/party-shard-client\.ts +missing/);
  });
});

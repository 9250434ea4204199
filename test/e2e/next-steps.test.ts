import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { execa } from "execa";
import { copyDemoApp, makeProject, runCli } from "../helpers/cli.js";

const CONFIG = `{\n  "name": "app",\n  "main": "src/server.ts"\n}\n`;
const SERVER = "export default class Server {\n  onMessage() {}\n}\n";
const CLIENT = `import PartySocket from "partysocket";\n\nconst socket = new PartySocket({ host: "localhost:1999", room: "lobby" });\nexport const say = (text: string) => socket.send(text);\n`;
const GIT_ENV = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };

/** A small app with a party and a client, committed to git: a user's starting point. */
async function committedApp(): Promise<string> {
  const dir = makeProject({ "partykit.json": CONFIG, "src/server.ts": SERVER, "src/client.ts": CLIENT, ".gitignore": "node_modules\n" });
  for (const args of [["init", "-q"], ["add", "-A"], ["commit", "-qm", "app"]]) await execa("git", args, { cwd: dir, env: GIT_ENV });
  return dir;
}

/** The text of the run's "Next:" line (the last one, as a command ends with it). */
function nextLine(stdout: string): string {
  const lines = stdout.split("\n").filter((line) => line.includes("Next: "));
  assert.equal(lines.length, 1, stdout);
  return lines[0]!.slice(lines[0]!.indexOf("Next: ") + "Next: ".length);
}

describe("each command ends with the one right next step (built CLI, no TTY)", () => {
  it("following the Next lines from init to check never meets a refusal", async () => {
    const dir = await committedApp();
    const init = await runCli(["init"], dir);
    assert.equal(init.exitCode, 0, init.stderr);
    const afterInit = nextLine(init.stdout);
    // The files init wrote are named in a command the user can paste; running it is the first step.
    const commit = /^commit what init wrote \((git add .+ && git commit -m "[^"]+")\), then npx party-shard migrate --dry-run /.exec(afterInit);
    assert.ok(commit, afterInit);
    assert.match(commit[1]!, /git add partykit\.json src\/router\.ts src\/party-shard-server\.ts/);
    await execa("sh", ["-c", commit[1]!], { cwd: dir, env: GIT_ENV });

    const dryRun = await runCli(["migrate", "--dry-run"], dir);
    assert.equal(dryRun.exitCode, 0, dryRun.stderr);
    assert.equal(nextLine(dryRun.stdout), "run the same command without --dry-run to write 3 files.");
    const migrate = await runCli(["migrate"], dir);
    assert.equal(migrate.exitCode, 0, migrate.stderr);
    assert.match(nextLine(migrate.stdout), /^npx party-shard check lists anything left to shard; npx party-shard verify measures delivery on partykit dev\.$/);
    const check = await runCli(["check"], dir);
    assert.equal(check.exitCode, 0, check.stdout);
    assert.equal(nextLine(check.stdout), "npx party-shard verify measures delivery on partykit dev.");
  });

  it("a dry run on a dirty tree says to commit first, naming what is uncommitted", async () => {
    const dir = await committedApp();
    assert.equal((await runCli(["init"], dir)).exitCode, 0);
    const dryRun = await runCli(["migrate", "--dry-run"], dir);
    assert.equal(dryRun.exitCode, 0, dryRun.stderr);
    assert.match(nextLine(dryRun.stdout), /^commit or stash the uncommitted changes \(.*partykit\.json.*\), then run the same command without --dry-run to write 3 files\.$/);
  });

  it("init on an app migrate already ran on points at check, not migrate", async () => {
    const dir = makeProject({ "partykit.json": CONFIG, "src/server.ts": SERVER, "src/client.ts": CLIENT });
    assert.equal((await runCli(["init"], dir)).exitCode, 0);
    assert.equal((await runCli(["migrate"], dir)).exitCode, 0);
    const reshard = await runCli(["init", "--shards", "8"], dir);
    assert.equal(reshard.exitCode, 0, reshard.stderr);
    assert.match(reshard.stdout, /updated src\/router\.ts/);
    assert.equal(nextLine(reshard.stdout), "npx party-shard check lists anything left to shard.");
    assert.doesNotMatch(reshard.stdout, /migrate/);
  });

  it("migrate with nothing to do says nothing changed, and what to run next", async () => {
    const dir = makeProject({ "partykit.json": CONFIG, "src/server.ts": SERVER, "src/client.ts": CLIENT });
    assert.equal((await runCli(["init"], dir)).exitCode, 0);
    assert.equal((await runCli(["migrate"], dir)).exitCode, 0);
    const again = await runCli(["migrate"], dir);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /Nothing to change: no file was written\./);
    assert.match(nextLine(again.stdout), /^npx party-shard check lists anything left to shard; npx party-shard verify/);
  });
});

describe("init's first line says what it found", () => {
  it("names the party, its file and the platform before anything else (PartyKit)", async () => {
    const dir = makeProject({ "partykit.json": CONFIG, "src/server.ts": SERVER });
    const result = await runCli(["init", "--dry-run"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    const firstText = result.stdout.split("\n").find((line) => /\w/.test(line));
    assert.equal(firstText, "●  Found party main (src/server.ts) in a PartyKit app (partykit.json).");
  });

  it("names the class, its binding and file, and the platform (PartyServer)", async () => {
    const dir = copyDemoApp("demo-partyserver-chat");
    const result = await runCli(["init", "--dry-run"], dir);
    assert.equal(result.exitCode, 0, result.stderr);
    const firstText = result.stdout.split("\n").find((line) => /\w/.test(line));
    assert.equal(firstText, "●  Found the Chat class (binding Chat, src/server.ts) in a PartyServer app (wrangler.jsonc).");
  });
});

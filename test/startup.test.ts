import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { execa } from "execa";
import { REPO, copyDemoApp, runCli } from "./helpers/cli.js";

/**
 * Runs the built CLI in one node process and lists the CommonJS modules it loaded from
 * ts-morph (and the TypeScript compiler it bundles): what --help and flag errors must not pay for.
 */
async function tsMorphModulesLoadedBy(args: string[], cwd = REPO): Promise<number> {
  const script = `
    import { createRequire } from "node:module";
    const { main } = await import(${JSON.stringify(path.join(REPO, "dist", "cli.js"))});
    const { write } = process.stdout;
    process.stdout.write = process.stderr.write = () => true;
    await main(["node", "party-shard", ...${JSON.stringify(args)}]);
    process.stdout.write = write;
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) => file.includes("/node_modules/ts-morph/") || file.includes("/node_modules/@ts-morph/"));
    console.log(loaded.length);
  `;
  const result = await execa(process.execPath, ["--input-type=module", "-e", script], { cwd, env: { CI: "true" }, stdin: "ignore" });
  const count = result.stdout.trim().split("\n").at(-1) ?? "";
  assert.match(count, /^\d+$/, `no module count in ${JSON.stringify(result.stdout)}`);
  return Number(count);
}

describe("start-up: ts-morph is loaded only by commands that read code", () => {
  for (const args of [["--help"], ["--version"], ["migrate", "--bogus"], ["init", "--shards", "abc"], ["verify", "--clients", "0"], ["check", "--help"]]) {
    it(`party-shard ${args.join(" ")} loads none of it`, async () => {
      assert.equal(await tsMorphModulesLoadedBy(args), 0);
    });
  }

  it("party-shard check on a project does load it (the probe sees what it should)", async () => {
    const dir = copyDemoApp();
    assert.equal((await runCli(["init", "--yes"], dir)).exitCode, 0);
    assert.ok((await tsMorphModulesLoadedBy(["check"], dir)) > 0);
  });
});

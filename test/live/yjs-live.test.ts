import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { DevServer } from "../../src/infra/dev-process.js";
import { linkNodeModules } from "../../src/infra/link-node-modules.js";
import { startPartykitDev } from "../../src/infra/partykit-dev.js";
import { startWranglerDev } from "../../src/infra/wrangler-dev.js";
import { FIXTURES, PARTYKIT_BIN, REPO, runCli } from "../helpers/cli.js";
import { readRouterLoad } from "../helpers/differential.js";
import { tempDir } from "../helpers/temp.js";
import { waitFor } from "../helpers/wait.js";
import { closeEditor, converged, cursorNames, openSynced, type Editor, type EditorModule } from "../helpers/yjs-editors.js";

interface Platform {
  name: string;
  fixture: string;
  /** The provider's line in app/editor.ts, as check names it before migrate. */
  providerAt: string;
  router: string;
  start(dir: string): Promise<DevServer>;
}

const PLATFORMS: Platform[] = [
  { name: "y-partykit on partykit dev", fixture: "partykit", providerAt: "app/editor.ts:7:20", router: "router", start: (cwd) => startPartykitDev({ cwd, bin: PARTYKIT_BIN }) },
  { name: "y-partyserver on wrangler dev", fixture: "partyserver", providerAt: "app/editor.ts:7:20", router: "party-shard-router", start: (cwd) => startWranglerDev({ cwd }) },
];
const ROOM = "notes";
/**
 * The text each editor of the large-document test adds at once: one Yjs update of about this many
 * bytes. YJS_LIVE_EDIT_KIB sets it, to find where a platform stops carrying one (docs/yjs.md).
 */
const LARGE_EDIT_CHARS = Number(process.env.YJS_LIVE_EDIT_KIB ?? 1024) * 1024;

for (const platform of PLATFORMS) {
  /**
   * A Yjs document app after init and migrate (3 shards): two editors whose providers migrate
   * routed sit on different shards, and one editor of the old bundle is connected straight to the
   * room; all three edit one Y.Text at once and end with the same text, each sees the others'
   * cursors (awareness), and a late joiner on the third shard gets the whole document, a 2 MiB
   * one too.
   */
  describe(`Yjs: ${platform.name}, after init + migrate`, { concurrency: 1 }, () => {
    const dir = tempDir(`yjs-${platform.fixture}`);
    const source = path.join(FIXTURES, "yjs", platform.fixture);
    let server: DevServer | undefined;
    let migrated: EditorModule;
    let original: EditorModule;
    const editors: Editor[] = [];

    before(async () => {
      cpSync(source, dir, { recursive: true });
      linkNodeModules(dir, REPO);
      assert.equal((await runCli(["init", "--yes", "--shards", "3", "--shard-target", "1"], dir)).exitCode, 0);
      const unrouted = await runCli(["check"], dir);
      assert.equal(unrouted.exitCode, 1);
      assert.match(unrouted.stdout, new RegExp(`^${platform.providerAt} {2}Yjs provider connects to the sharded party directly, not through the router`, "m"));
      const migrate = await runCli(["migrate", "--yes"], dir);
      assert.equal(migrate.exitCode, 0, migrate.stderr);
      assert.match(readFileSync(path.join(dir, "app", "editor.ts"), "utf8"), new RegExp(`party: "${platform.router}",\\n {4}params: shardKey\\(\\),`));
      const check = await runCli(["check"], dir);
      assert.equal(check.exitCode, 0, check.stdout);
      migrated = (await import(path.join(dir, "app", "editor.ts"))) as EditorModule;
      original = (await import(path.join(source, "app", "editor.ts"))) as EditorModule;
      server = await platform.start(dir);
    });

    after(async () => {
      // The provider leaves its awareness (and its timer) to its owner.
      for (const editor of editors) closeEditor(editor);
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    async function open(module: EditorModule, room = ROOM): Promise<Editor> {
      const editor = await openSynced(module, server!.host, room);
      editors.push(editor);
      return editor;
    }

    it("two editors on different shards and one straight to the room edit one text at once, end with the same text and see each other's cursors; a late joiner on the third shard gets it all", async () => {
      const alice = await open(migrated);
      const bob = await open(migrated);
      const { load } = await readRouterLoad(server!.host, ROOM, platform.router, server!.viewToken);
      assert.deepEqual(load.filter((count) => count === 1).length, 2, `the router put the two editors on two shards: ${JSON.stringify(load)}`);
      const carol = await open(original);

      // Concurrently: each inserts at the start and the end, none waiting for the others.
      const group = [alice, bob, carol];
      group.forEach((editor, i) => {
        editor.text.insert(0, `<${i}`);
        editor.text.insert(editor.text.length, `${i}>`);
      });
      const length = group.length * 4;
      await waitFor("the three editors to converge", converged(group, length), () => group.map((editor) => JSON.stringify(editor.text.toString())).join(" "));
      for (const i of [0, 1, 2]) assert.ok(alice.text.toString().includes(`<${i}`) && alice.text.toString().includes(`${i}>`), alice.text.toString());

      // Cursors: each editor's awareness reaches the other two, across shards and to the direct one.
      group.forEach((editor, i) => editor.provider.awareness.setLocalStateField("cursor", { name: `editor ${i}`, at: i }));
      const everyone = ["editor 0", "editor 1", "editor 2"];
      await waitFor("every editor to see every cursor", () => group.every((editor) => JSON.stringify(cursorNames(editor)) === JSON.stringify(everyone)), () => group.map((editor) => JSON.stringify(cursorNames(editor))).join(" "));

      const dave = await open(migrated);
      await waitFor("the late joiner to get the whole document", converged([...group, dave], length), () => JSON.stringify(dave.text.toString()));
      const after = await readRouterLoad(server!.host, ROOM, platform.router, server!.viewToken);
      assert.deepEqual(after.load, [1, 1, 1], "the late joiner is on the third shard");
    });

    it(`carries large edits both ways: each routed editor adds ${LARGE_EDIT_CHARS / 1024} KiB at once, and a late joiner gets the whole document`, async () => {
      const room = `${ROOM}-large`;
      const [alice, bob] = [await open(migrated, room), await open(migrated, room)];
      alice.text.insert(0, "a".repeat(LARGE_EDIT_CHARS));
      bob.text.insert(0, "b".repeat(LARGE_EDIT_CHARS));
      const length = 2 * LARGE_EDIT_CHARS;
      const log = () => server!.output().slice(-4_000);
      await waitFor("both editors to have both edits", converged([alice, bob], length), () => `lengths ${alice.text.length} ${bob.text.length}\n${log()}`, 30_000);
      const carol = await open(migrated, room);
      await waitFor("the late joiner to get the whole document", converged([alice, bob, carol], length), () => `length ${carol.text.length}\n${log()}`, 30_000);
    });
  });
}

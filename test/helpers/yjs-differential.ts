import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DifferentialLab, faultsIn, readRouterLoad, type DevServer, type Mode, type Platform } from "./differential.js";
import { sleep, waitFor } from "./wait.js";
import { closeEditor, converged, cursorNames, openSynced, type Editor, type EditorModule } from "./yjs-editors.js";

/**
 * The differential test for collaborative documents: one script of real Yjs providers against a
 * document app unsharded, after init + migrate, and sharded with faults injected; every run must
 * end with the same texts, the same cursors and the same persistence calls (loads, saves, from the
 * room itself only). The apps (test/fixtures/differential{,-partyserver}/yjs*) keep the document in
 * storage themselves and report each load and save to a sink; the document they start from was
 * saved before migration.
 */
const ROOM = "notes";
const SEEDED = "seeded.";
/**
 * After every editor left, nothing happens for this long: the room (and, sharded, its leader,
 * whose shards close their links once nobody is on them, within a second) is evicted on either
 * dev server, and the next editor makes it load the document again.
 */
const QUIET_MS = 15_000;

/** One document app: its title, platform, folder under the platform's differential fixtures, and the router's URL name. */
export interface YjsApp {
  title: string;
  platform: Platform;
  fixture: string;
  router: string;
}

/** Everything one run of the script saw. */
interface Observations {
  /** Each of the first three editors' text once synced. */
  joined: string[];
  /** The text after each phase, as every editor holds it. */
  phases: string[];
  /** The cursors each of the first three editors sees, then the late joiner. */
  cursors: string[][];
  /** The cursors the others see after the second editor left. */
  afterLeave: string[][];
  /** The text an editor gets after everyone left and the room was quiet. */
  reopened: string;
  persistence: {
    loads: number;
    /** The rooms that loaded or saved. */
    rooms: string[];
    /** Whether each phase's text was saved. */
    saved: boolean[];
    lastSave: string | undefined;
  };
}

interface SinkCall {
  event: "load" | "save";
  room: string;
  text?: string;
}

/** The suite for one app (a file each: a run of three takes most of a file's 180 s). */
export function describeYjsDifferential(twin: YjsApp): void {
  describe(`Yjs differential on ${twin.title}: a sharded document behaves as the unsharded one`, { concurrency: 1 }, () => {
    const lab: DifferentialLab<never> = new DifferentialLab({ platform: twin.platform, fixture: twin.fixture, prime: (server, sink) => prime(lab, server, sink) });
    let reference: Observations | undefined;
    before(() => lab.prepare());
    after(() => lab.cleanup());

    it("unsharded: the reference observations", async () => {
      reference = await observe(lab, twin, "unsharded");
      // What the script is there to show must have happened unsharded.
      assert.equal(reference.joined[0], SEEDED, "the document saved before migration was not loaded");
      assert.deepEqual(reference.persistence.saved, [true, true, true]);
      if (twin.platform === "partyserver") assert.equal(reference.persistence.loads, 2, "the quiet room was not evicted and loaded again");
    });

    for (const mode of ["sharded", "sharded with faults"] as const) {
      it(`${mode}: the same texts, cursors and persistence calls`, async () => {
        assert.ok(reference, "the unsharded run failed: nothing to compare with");
        assert.deepEqual(await observe(lab, twin, mode), reference);
      });
    }
  });
}

/** Before migration: one editor writes the seed text and waits until the app saved it. */
async function prime(lab: DifferentialLab<never>, server: DevServer, sink: unknown[]): Promise<void> {
  const editor = await openSynced(await editorModule(path.join(lab.fixtureDir, "app")), server.host, ROOM);
  try {
    editor.text.insert(0, SEEDED);
    await waitForSave(sink, SEEDED);
  } finally {
    closeEditor(editor);
  }
}

/** The script, against the project of `mode`. */
async function observe(lab: DifferentialLab<never>, twin: YjsApp, mode: Mode): Promise<Observations> {
  const own = await editorModule(path.join(lab.projectDir(mode), "app"));
  // The old bundle: the fixture's editor, untouched, straight to the room.
  const old = await editorModule(path.join(lab.fixtureDir, "app"));
  return lab.withServer(mode, async (server, log, calls) => {
    const sink = calls as SinkCall[];
    const editors: Editor[] = [];
    const open = async (module: EditorModule) => {
      const editor = await openSynced(module, server.host, ROOM);
      editors.push(editor);
      return editor;
    };
    try {
      const alice = await open(own);
      const bob = await open(own);
      const carol = await open(old);
      if (mode !== "unsharded") {
        const { load } = await readRouterLoad(server.host, ROOM, twin.router, server.viewToken);
        assert.equal(load.filter((count) => count === 1).length, 2, `the two routed editors are on two shards: ${JSON.stringify(load)}`);
      }
      const group = [alice, bob, carol];
      const joined = group.map((editor) => editor.text.toString());
      const phases: string[] = [];
      const settle = async (what: string, length: number) => {
        await waitFor(what, converged(group, length), () => group.map((editor) => JSON.stringify(editor.text.toString())).join(" "));
        phases.push(alice.text.toString());
        await waitForSave(sink, alice.text.toString());
      };

      // At once, none waiting for the others, at places that do not depend on Yjs's client ids.
      alice.text.insert(0, "[a]");
      bob.text.insert(bob.text.length, "[b]");
      carol.text.insert(4, "[c]");
      await settle("the three concurrent edits to converge", SEEDED.length + 9);
      // One after another.
      alice.text.delete(0, 3);
      await settle("alice's delete to reach everyone", SEEDED.length + 6);
      carol.text.insert(carol.text.length, " done");
      await settle("carol's edit to reach everyone", SEEDED.length + 11);

      group.forEach((editor, i) => editor.provider.awareness.setLocalStateField("cursor", { name: `editor ${i}`, at: i }));
      const named = ["editor 0", "editor 1", "editor 2"];
      await waitFor("every editor to see every cursor", () => group.every((editor) => cursorNames(editor).join() === named.join()), () => group.map((editor) => cursorNames(editor).join()).join(" | "));
      const late = await open(own);
      await waitFor("the late joiner to see the cursors", () => cursorNames(late).length === 3, () => cursorNames(late).join());
      const cursors = [...group, late].map(cursorNames);

      closeEditor(bob);
      const stayed = [alice, carol, late];
      await waitFor("the others to see bob's cursor go", () => stayed.every((editor) => !cursorNames(editor).includes("editor 1")), () => stayed.map((editor) => cursorNames(editor).join()).join(" | "));
      const afterLeave = stayed.map(cursorNames);

      for (const editor of editors) closeEditor(editor);
      await sleep(QUIET_MS);
      const reopened = (await open(own)).text.toString();

      if (mode === "sharded with faults") assert.ok(faultsIn(log()) > 0, "PARTY_SHARD_FAULT_PERCENT=20 injected no fault");
      else assert.equal(faultsIn(log()), 0);
      const saves = sink.filter((call) => call.event === "save");
      return {
        joined,
        phases,
        cursors,
        afterLeave,
        reopened,
        persistence: {
          loads: sink.filter((call) => call.event === "load").length,
          rooms: [...new Set(sink.map((call) => call.room))].sort(),
          saved: phases.map((text) => saves.some((call) => call.text === text)),
          lastSave: saves.at(-1)?.text,
        },
      };
    } finally {
      for (const editor of editors) closeEditor(editor);
    }
  });
}

/** Waits until the app reported a save of `text` to the sink. */
async function waitForSave(sink: unknown[], text: string): Promise<void> {
  const saves = () => (sink as SinkCall[]).filter((call) => call.event === "save").map((call) => call.text);
  await waitFor(`the app to save ${JSON.stringify(text)}`, () => saves().includes(text), () => `saves so far: ${JSON.stringify(saves())}`);
}

async function editorModule(appDir: string): Promise<EditorModule> {
  return (await import(path.join(appDir, "editor.ts"))) as EditorModule;
}

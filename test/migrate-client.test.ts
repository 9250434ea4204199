import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { execa } from "execa";
import { ts } from "ts-morph";
import PartySocket from "partysocket";
import WebSocket from "ws";
import { renderHelper } from "../src/core/migrate/client/render-helper.js";
import { editedSinceGenerated } from "../src/core/render-template.js";
import { linkNodeModules } from "../src/infra/link-node-modules.js";
import { packageFiles } from "../src/infra/package-files.js";
import { FIXTURES, REPO } from "./helpers/cli.js";
import { clientProject, clientProjectPartyServer, migrateClient, migrateClientPartyServer, routerStub } from "./helpers/migrate-client.js";
import { tempDir } from "./helpers/temp.js";
import { waitFor } from "./helpers/wait.js";

// test/fixtures/migrate-client/<case>/input/<files>, output/<changed files> (none: nothing may
// change) and findings.txt (`level code file:line:col`); case.json, when there, says where the
// PartyKit config goes (`config`), where helpers are written (`helpers`), `writes`, and
// `platform: "partyserver"` for a case in a PartyServer project (class ShardLeader). UPDATE_FIXTURES=1
// writes output/ and findings.txt for a case that has no findings.txt yet.
const CASES = path.join(FIXTURES, "migrate-client");
const HELPER = "app/party-shard-client.ts";

function filesUnder(dir: string, prefix = ""): Map<string, string> {
  const files = new Map<string, string>();
  if (!existsSync(dir)) return files;
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    const relative = prefix ? `${prefix}/${entry}` : entry;
    if (statSync(full).isDirectory()) for (const [file, text] of filesUnder(full, relative)) files.set(file, text);
    else files.set(relative, readFileSync(full, "utf8"));
  }
  return files;
}

interface CaseLayout {
  config?: string;
  helpers?: string[];
  /** `migrate --writes` for this case (default routed). */
  writes?: "routed" | "socket";
  /** The project around the case's files (default partykit). */
  platform?: "partykit" | "partyserver";
}

/** The case's project, and migrate's client half on it. */
function projectFor(layout: CaseLayout, input: string, withNodeModules: boolean): string {
  return layout.platform === "partyserver" ? clientProjectPartyServer(input, withNodeModules) : clientProject(input, withNodeModules, layout.config);
}
function migrateFor(layout: CaseLayout, root: string) {
  return layout.platform === "partyserver" ? migrateClientPartyServer(root) : migrateClient(root, layout.config, layout.writes);
}

function readCase(name: string) {
  const dir = path.join(CASES, name);
  const expected = filesUnder(path.join(dir, "output"));
  const findingsFile = path.join(dir, "findings.txt");
  const findings = existsSync(findingsFile) ? readFileSync(findingsFile, "utf8").split("\n").filter(Boolean) : undefined;
  const layout = existsSync(path.join(dir, "case.json")) ? (JSON.parse(readFileSync(path.join(dir, "case.json"), "utf8")) as CaseLayout) : {};
  return { dir, input: path.join(dir, "input"), expected, findings, layout };
}

/** Writes what migrate planned as the case's expected output, for a new case (UPDATE_FIXTURES=1). */
function recordCase(dir: string, changes: Map<string, string>, findings: string[]): void {
  for (const [file, text] of changes) {
    mkdirSync(path.dirname(path.join(dir, "output", file)), { recursive: true });
    writeFileSync(path.join(dir, "output", file), text);
  }
  writeFileSync(path.join(dir, "findings.txt"), findings.map((line) => `${line}\n`).join(""));
}

const names = readdirSync(CASES).sort();

describe("migrate, client half: fixtures", () => {
  it("has at least 20 rewriting fixtures and 8 that must not change", () => {
    const changing = names.filter((name) => readCase(name).expected.size > 0);
    const negative = names.filter((name) => name.startsWith("negative-"));
    assert.ok(changing.length >= 20, `${changing.length} rewriting fixtures`);
    assert.ok(negative.length >= 8, `${negative.length} negative fixtures`);
  });

  for (const name of names) {
    const fixture = readCase(name);
    for (const withNodeModules of [true, false]) {
      it(`${name} (${withNodeModules ? "with" : "without"} node_modules)`, async () => {
        const { changes, findings } = await migrateFor(fixture.layout, projectFor(fixture.layout, fixture.input, withNodeModules));
        const helpers = [...changes.keys()].filter((file) => path.posix.basename(file) === "party-shard-client.ts");
        const helperTexts = helpers.map((file) => changes.get(file));
        for (const file of helpers) changes.delete(file);
        if (process.env.UPDATE_FIXTURES && !fixture.findings) recordCase(fixture.dir, changes, findings);
        assert.deepEqual(changes, fixture.findings ? fixture.expected : changes);
        assert.deepEqual(findings, fixture.findings ?? findings);
        // A helper is written (one per package) when some file there now calls it: to send, or to key a socket.
        const callsHelper = [...changes.values()].some((text) => /\b(sendViaRouter|shardKey)\(/.test(text));
        assert.deepEqual(helpers.sort(), fixture.layout.helpers?.sort() ?? (callsHelper ? [HELPER] : []));
        for (const text of helperTexts) {
          const router = fixture.layout.platform === "partyserver" ? "party-shard-router" : "router";
          assert.match(text!, new RegExp(`^export const \\{ sendViaRouter, shardKey \\} = routerClient\\("${router}"\\);$`, "m"));
          assert.match(text!, /^import \{ routerClient \} from "party-shard\/client";$/m);
          assert.equal(editedSinceGenerated(text!), false);
        }
      });
    }

    it(`${name}: applying twice is applying once`, async () => {
      const root = projectFor(fixture.layout, fixture.input, true);
      const first = await migrateFor(fixture.layout, root);
      for (const [file, text] of first.changes) writeFileSync(path.join(root, file), text);
      const second = await migrateFor(fixture.layout, root);
      assert.deepEqual([...second.changes.keys()], []);
      assert.ok(!second.findings.some((finding) => / (send-rewritten|socket-routed) /.test(finding)));
    });
  }
});

describe("migrate, client half: migrated code type-checks with the generated helper", () => {
  it("tsc --noEmit --strict over every rewritten TypeScript fixture", async () => {
    // React is not installed here, so fixtures that import it are checked by the fixture test only.
    const usesReact = (name: string) => [...filesUnder(readCase(name).input).values()].some((text) => /from "react"/.test(text));
    // Cases laid out as a repository (case.json) are type-checked package by package in migrate-client-repo.test.ts.
    const typed = names.filter((name) => !usesReact(name) && !readCase(name).layout.config && !readCase(name).layout.platform && [...readCase(name).expected.keys()].some((file) => file.endsWith(".ts")));
    const roots = await Promise.all(
      typed.map(async (name) => {
        const root = clientProject(readCase(name).input, true);
        const { changes } = await migrateClient(root, ".", readCase(name).layout.writes);
        for (const [file, text] of changes) writeFileSync(path.join(root, file), text);
        return root;
      }),
    );
    assert.ok(roots.length >= 15, `only ${roots.length} fixtures type-checked`);
    // One tsc process for them all (`tsc -b` over one project per fixture): each start costs seconds.
    for (const root of roots) {
      const compilerOptions = { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022", "DOM", "DOM.Iterable"], skipLibCheck: true, types: [] };
      // A fixture's own tsconfig adds what its imports need (paths); the strict settings stay ours.
      // Only what resolves imports is taken from it: a fixture's tsconfig may carry options tsc refuses on purpose.
      const own = existsSync(path.join(root, "tsconfig.json")) ? (ts.parseConfigFileTextToJson("tsconfig.json", readFileSync(path.join(root, "tsconfig.json"), "utf8")).config as { compilerOptions?: { paths?: object; baseUrl?: string } }) : {};
      const { paths, baseUrl } = own.compilerOptions ?? {};
      writeFileSync(path.join(root, "tsconfig.json"), JSON.stringify({ compilerOptions: { paths, baseUrl, ...compilerOptions }, include: ["app/**/*.ts"] }));
    }
    const tsc = await execa(path.join(REPO, "node_modules", ".bin", "tsc"), ["-b", ...roots], { reject: false });
    assert.equal(tsc.exitCode, 0, `${tsc.stdout}${tsc.stderr}`);
  });
});

describe("migrate, client half: the generated helper at work", () => {
  type Query = Record<string, string>;
  type Helper = {
    shardKey(query?: Query | (() => Promise<Query>)): Query & (() => Promise<Query>);
    sendViaRouter(socket: PartySocket, payload: string): Promise<void>;
  };
  let helper: Helper;
  before(async () => {
    // As a user's project has it: importing party-shard/client, as built from src/runtime.
    const dir = tempDir("helper");
    linkNodeModules(dir, REPO);
    const file = path.join(dir, "party-shard-client.ts");
    writeFileSync(file, renderHelper({ routerParty: "router", mode: "package" }, packageFiles));
    helper = (await import(file)) as Helper;
  });

  it("shardKey keeps an object query an object and a function query a function, with one key each", async () => {
    const keyed = helper.shardKey({ token: "t" });
    assert.equal(keyed.token, "t");
    assert.match(keyed._psk!, /^[0-9a-f]{32}$/);
    assert.notEqual(helper.shardKey()._psk, keyed._psk);
    // usePartySocket compares JSON.stringify(query) between renders: the key must not show.
    assert.equal(JSON.stringify(keyed), '{"token":"t"}');
    const query = helper.shardKey(async () => ({ token: "t" }));
    const [first, second] = [await query(), await query()];
    assert.equal(first.token, "t");
    assert.equal(first._psk, second._psk);
  });

  it("POSTs a write alone with the socket's key and id, retrying a 425 (connect still on its way) with the same key; its promise resolves", async () => {
    const stub = await routerStub([425]);
    const socket = new PartySocket({ host: stub.host, room: "lobby", party: "router", query: helper.shardKey({ token: "t" }), WebSocket });
    try {
      await helper.sendViaRouter(socket, "one");
      const connect = new URL(stub.seen.connects[0]!, "http://stub").searchParams;
      assert.equal(connect.get("token"), "t");
      assert.deepEqual(stub.seen.posts.map((post) => post.body), ["one", "one"]);
      for (const { path, headers } of stub.seen.posts) {
        assert.equal(path, "/parties/router/lobby");
        assert.equal(headers["x-party-shard-key"], connect.get("_psk"));
        assert.equal(headers["x-party-shard-connection"], socket.id);
        assert.equal(headers["content-type"], "text/plain;charset=UTF-8");
      }
      const [retried, again] = stub.seen.posts.map((post) => post.headers["idempotency-key"]);
      assert.equal(retried, again);
    } finally {
      socket.close();
      await stub.close();
    }
  });

  it("once the router has said it takes batches, sends writes made together in one request, in order, each with its own key", async () => {
    const stub = await routerStub();
    const socket = new PartySocket({ host: stub.host, room: "lobby", party: "router", query: helper.shardKey(), WebSocket });
    try {
      await helper.sendViaRouter(socket, "first");
      await Promise.all(["a", "b", "c"].map((text) => helper.sendViaRouter(socket, text)));
      assert.equal(stub.seen.posts.length, 2);
      assert.equal(stub.seen.posts[0]!.body, "first");
      const [, batch] = stub.seen.posts;
      assert.equal(batch!.headers["content-type"], "application/vnd.party-shard.batch+json");
      const entries = JSON.parse(batch!.body) as { k: string; t: string }[];
      assert.deepEqual(entries.map((entry) => entry.t), ["a", "b", "c"]);
      assert.equal(new Set(entries.map((entry) => entry.k)).size, 3);
    } finally {
      socket.close();
      await stub.close();
    }
  });

  it("gives a refused write up at once (its promise rejects) and goes on with the next", async (t) => {
    const error = t.mock.method(console, "error", () => {});
    const stub = await routerStub([403]);
    const socket = new PartySocket({ host: stub.host, room: "lobby", party: "router", query: helper.shardKey(), WebSocket });
    try {
      await assert.rejects(helper.sendViaRouter(socket, "refused"), /router answered 403/);
      await helper.sendViaRouter(socket, "next");
      assert.deepEqual(stub.seen.posts.map((post) => post.body), ["refused", "next"]);
      assert.equal(error.mock.callCount(), 1);
    } finally {
      socket.close();
      await stub.close();
    }
  });

  it("sends on the socket itself when it has no key", async () => {
    const stub = await routerStub();
    const socket = new PartySocket({ host: stub.host, room: "lobby", party: "router", WebSocket });
    try {
      await helper.sendViaRouter(socket, "hi");
      await waitFor("the message on the socket", () => stub.seen.messages.length === 1, () => JSON.stringify(stub.seen), 5_000);
      assert.deepEqual(stub.seen.messages, ["hi"]);
      assert.equal(stub.seen.posts.length, 0);
    } finally {
      socket.close();
      await stub.close();
    }
  });
});

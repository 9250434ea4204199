import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { before, describe, it } from "node:test";
import { execa } from "execa";
import PartySocket from "partysocket";
import WebSocket from "ws";
import { renderHelper } from "../src/core/migrate/client/render-helper.js";
import { FIXTURES, REPO } from "./helpers/cli.js";
import { clientProject, migrateClient, routerStub } from "./helpers/migrate-client.js";

// test/fixtures/migrate-client/<case>/input/<files>, output/<changed files> (none: nothing may
// change) and findings.txt (`level code file:line:col`).
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

function readCase(name: string) {
  const dir = path.join(CASES, name);
  const expected = filesUnder(path.join(dir, "output"));
  const findings = readFileSync(path.join(dir, "findings.txt"), "utf8").split("\n").filter(Boolean);
  return { input: path.join(dir, "input"), expected, findings };
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
        const { changes, findings } = await migrateClient(clientProject(fixture.input, withNodeModules));
        const helper = changes.get(HELPER);
        changes.delete(HELPER);
        assert.deepEqual(changes, fixture.expected);
        assert.deepEqual(findings, fixture.findings);
        // The helper is written when some file now calls it: to send, or to key a socket.
        const callsHelper = [...fixture.expected.values()].some((text) => /\b(sendViaRouter|shardKey)\(/.test(text));
        assert.equal(helper, callsHelper ? renderHelper({ routerParty: "router" }) : undefined);
      });
    }

    it(`${name}: applying twice is applying once`, async () => {
      const root = clientProject(fixture.input, true);
      const first = await migrateClient(root);
      for (const [file, text] of first.changes) writeFileSync(path.join(root, file), text);
      const second = await migrateClient(root);
      assert.deepEqual([...second.changes.keys()], []);
      assert.ok(!second.findings.some((finding) => / (send-rewritten|socket-routed) /.test(finding)));
    });
  }
});

describe("migrate, client half: migrated code type-checks with the generated helper", () => {
  it("tsc --noEmit --strict over every rewritten TypeScript fixture", async () => {
    // React is not installed here, so fixtures that import it are checked by the fixture test only.
    const usesReact = (name: string) => [...filesUnder(readCase(name).input).values()].some((text) => /from "react"/.test(text));
    const typed = names.filter((name) => !usesReact(name) && [...readCase(name).expected.keys()].some((file) => file.endsWith(".ts")));
    const roots = await Promise.all(
      typed.map(async (name) => {
        const root = clientProject(readCase(name).input, true);
        const { changes } = await migrateClient(root);
        for (const [file, text] of changes) writeFileSync(path.join(root, file), text);
        return root;
      }),
    );
    assert.ok(roots.length >= 15, `only ${roots.length} fixtures type-checked`);
    for (const root of roots) {
      const compilerOptions = { strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "Bundler", lib: ["ES2022", "DOM", "DOM.Iterable"], skipLibCheck: true, types: [] };
      // A fixture's own tsconfig adds what its imports need (paths); the strict settings stay ours.
      const own = existsSync(path.join(root, "tsconfig.json")) ? (JSON.parse(readFileSync(path.join(root, "tsconfig.json"), "utf8")) as { compilerOptions?: object }) : {};
      writeFileSync(path.join(root, "tsconfig.json"), JSON.stringify({ compilerOptions: { ...own.compilerOptions, ...compilerOptions }, include: ["app/**/*.ts"] }));
      const tsc = await execa(path.join(REPO, "node_modules", ".bin", "tsc"), ["-p", root], { reject: false });
      assert.equal(tsc.exitCode, 0, `${root}\n${tsc.stdout}${tsc.stderr}`);
    }
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
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), "party-shard-helper-")), "party-shard-client.ts");
    writeFileSync(file, renderHelper({ routerParty: "router" }));
    helper = (await import(file)) as Helper;
  });

  const until = async (condition: () => boolean) => {
    for (const started = Date.now(); !condition(); await new Promise((resolve) => setTimeout(resolve, 10))) {
      if (Date.now() - started > 5_000) throw new Error("timed out");
    }
  };

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

  it("sends writes made together in one request, in order, each with its own key", async () => {
    const stub = await routerStub();
    const socket = new PartySocket({ host: stub.host, room: "lobby", party: "router", query: helper.shardKey(), WebSocket });
    try {
      await Promise.all(["a", "b", "c"].map((text) => helper.sendViaRouter(socket, text)));
      assert.equal(stub.seen.posts.length, 1);
      const [batch] = stub.seen.posts;
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
      await until(() => stub.seen.messages.length === 1);
      assert.deepEqual(stub.seen.messages, ["hi"]);
      assert.equal(stub.seen.posts.length, 0);
    } finally {
      socket.close();
      await stub.close();
    }
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PartyShardError } from "../src/errors.js";
import { parseSetupHeader, parseSetupLine, setupBody, setupPath } from "../src/core/verify/setup-request.js";
import { parseVerifyConfig } from "../src/core/verify/verify-config.js";
import { compareVersions } from "../src/core/versions/semver.js";
import { Receipts } from "../src/infra/probe-receipts.js";

const parties = { known: ["main", "router", "lobby"], sharded: "main", router: "router" };

/** The message of the bad-input error `run` throws. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof PartyShardError && error.exitCode === 2, String(error));
    return error.message;
  }
  assert.fail("no error");
}

describe("verify's setup requests", () => {
  it("METHOD PATH BODY, {room} filled in the path and body, the party swapped for the router in the sharded run", () => {
    const request = parseSetupLine(`POST /parties/main/{room}/polls?x=1 {"room":"{room}","options":["a b","c"]}`, "--setup #1", parties);
    assert.equal(setupPath(request, "r1"), "/parties/main/r1/polls?x=1");
    assert.equal(setupPath(request, "r1", "router"), "/parties/router/r1/polls?x=1");
    assert.equal(setupBody(request, "r1"), `{"room":"r1","options":["a b","c"]}`);
    assert.equal(parseSetupLine("DELETE /parties/lobby/all", "--setup #2", parties).body, "");
    // The router hands a GET without its view token to the room, as a direct GET.
    assert.equal(parseSetupLine("GET /parties/main/{room}", "--setup #3", parties).method, "GET");
  });

  it("refuses, naming where and why: bad shape, method, path, party, the router, a PUT to the sharded room, broken JSON", () => {
    const cases: [string, RegExp][] = [
      ["POST", /--setup #1: expected "METHOD \/parties\/<party>\/\{room\} \[body\]"/],
      ["post /parties/main/{room}", /--setup #1: the method must be one of GET, POST, PUT, PATCH, DELETE \(upper case\); got "post"/],
      ["POST /main/{room}", /the path must be \/parties\/<party>\/<room>/],
      ["POST /parties/main/", /the path must be/],
      ["POST /parties/chat/{room}", /"chat" is not a party of this project \(parties: main, router, lobby\)/],
      ["POST /parties/router/{room}", /name the party itself, not the router "router"/],
      ["PUT /parties/main/{room}", /the router passes only GET and POST on to the room of "main"/],
      ["GET /parties/lobby/x body", /a GET has no body/],
      [`POST /parties/main/{room} {"title":}`, /the body looks like JSON but is not/],
    ];
    for (const [line, expected] of cases) assert.match(refusal(() => parseSetupLine(line, "--setup #1", parties)), expected, line);
  });
});

describe("verify's setup headers", () => {
  it("'name: value', the name lower-cased; anything else refused", () => {
    assert.deepEqual(parseSetupHeader("Authorization: Bearer a:b", "--setup-header #1"), ["authorization", "Bearer a:b"]);
    assert.match(refusal(() => parseSetupHeader("Bearer demo", "--setup-header #2")), /--setup-header #2: expected "name: value", got "Bearer demo"/);
    assert.match(refusal(() => parseSetupHeader("bad name: x", "--setup-header #1")), /expected "name: value"/);
  });
});

describe("party-shard.verify.json", () => {
  it("setup as lines or objects (a JSON body is sent as JSON), payload and count", () => {
    const config = parseVerifyConfig(
      JSON.stringify({ setup: ["POST /parties/main/{room} hello", { method: "POST", path: "/parties/main/{room}", body: { title: "Lunch?" }, headers: { authorization: "Bearer x" } }], payload: `{"type":"vote","option":0}`, count: "any" }),
      "party-shard.verify.json",
      parties,
    );
    assert.deepEqual(config.setup?.map((request) => [request.source, request.body]), [["setup[0]", "hello"], ["setup[1]", `{"title":"Lunch?"}`]]);
    assert.deepEqual(config.setup?.[1]?.headers, { authorization: "Bearer x" });
    assert.equal(config.count, "any");
  });

  it("refuses unknown keys, wrong types, bad entries and broken JSON, at the file (and line for JSON)", () => {
    const parse = (text: string) => () => parseVerifyConfig(text, "party-shard.verify.json", parties);
    assert.match(refusal(parse(`{"setpu":[]}`)), /unknown key "setpu" \(it takes setup, payload, count\)/);
    assert.match(refusal(parse(`{"count":"all"}`)), /"count" must be auto, token, any; got "all"/);
    assert.match(refusal(parse(`{"setup":"POST /parties/main/{room}"}`)), /"setup" must be an array/);
    assert.match(refusal(parse(`{"setup":[{"method":"POST","path":"/parties/main/{room}","header":{}}]}`)), /setup\[0\] has an unknown key "header" \(it takes method, path, body, headers\)/);
    assert.match(refusal(parse(`{"setup":[{"method":"POST","path":"/parties/main/{room}","headers":{"x":1}}]}`)), /setup\[0\] "headers" must be an object of strings/);
    assert.match(refusal(parse(`{"setup":["POST /parties/nope/{room}"]}`)), /setup\[0\]: "nope" is not a party/);
    try {
      parse(`{\n  "setup": [,]\n}`)();
      assert.fail("no error");
    } catch (error) {
      assert.deepEqual((error as PartyShardError).location, { file: "party-shard.verify.json", line: 2, col: 13 });
    }
  });
});

describe("dev server versions", () => {
  it("compares major.minor.patch numerically", () => {
    assert.ok(compareVersions("0.0.29", "0.0.114") < 0);
    assert.ok(compareVersions("0.0.115", "0.0.114") > 0);
    assert.ok(compareVersions("3.0.0", "3.0.0") === 0);
    assert.ok(compareVersions("4.86.0-beta.1", "3.0.0") > 0);
  });
});

describe("receipts counted as any frame", () => {
  it("a listener's k-th frame after writes began counts for its k-th sent write; greetings and frames beyond the writes sent do not", () => {
    const receipts = new Receipts(3, 2, /tok:(\d+)/);
    receipts.onFrame(1, "welcome", true, 1);
    receipts.published = 1;
    receipts.onFrame(1, "state", true, 2);
    receipts.onFrame(1, "state again", true, 3); // a second frame for write 0: not write 1's, which was not sent
    receipts.onFrame(0, "writer's own", false, 3);
    receipts.published = 2;
    receipts.onFrame(1, "state", true, 4);
    receipts.onFrame(2, "state", true, 5); // client 2 missed write 0: its first frame counts for write 0
    assert.deepEqual([...receipts.any[0]!.keys()], [1, 2]);
    assert.deepEqual([...receipts.any[1]!.keys()], [1]);
    assert.equal(receipts.delivered("any", 2), 3);
    assert.equal(receipts.counted("auto"), "any");
    assert.equal(receipts.framesBeforeWrites, 1);
    assert.deepEqual(receipts.sample, ["welcome", "state", "state again"]);
  });

  it("auto counts tokens once a frame carried one", () => {
    const receipts = new Receipts(2, 1, /tok:(\d+)/);
    receipts.published = 1;
    receipts.onFrame(1, "tok:0", true, 1);
    receipts.onFrame(1, "tok:0", true, 2);
    assert.equal(receipts.counted("auto"), "token");
    assert.equal(receipts.duplicates, 1);
  });
});

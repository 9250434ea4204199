import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { readUsedVersion } from "../src/core/versions/read-version.js";
import { compareVersions, rangeReach } from "../src/core/versions/semver.js";
import { refuseUnsupportedVersions, versionFindings } from "../src/core/versions/version-findings.js";
import type { Finding, Plan } from "../src/core/plan.js";
import type { PartyShardError } from "../src/errors.js";
import type { Disk } from "../src/core/read-file.js";
import { memoryDisk } from "./helpers/reader.js";

const CASES = path.join(import.meta.dirname, "fixtures", "versions");

/** What a case expects of one package: the version and the file it came from (both absent when unread), and the range. */
interface Expected {
  dir: string;
  package: string;
  version?: string;
  from?: string;
  range?: string;
}

/** A case's files in memory under `/app`, so no lockfile or node_modules above the fixture is found. */
function caseDisk(name: string): Disk {
  const root = path.join(CASES, name);
  const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile() && entry.name !== "expected.json");
  return memoryDisk(Object.fromEntries(files.map((entry) => {
    const full = path.join(entry.parentPath, entry.name);
    return [path.join("/app", path.relative(root, full)), readFileSync(full, "utf8")];
  })));
}

describe("the versions a project uses: lockfile, then node_modules, then package.json's range", () => {
  for (const name of readdirSync(CASES)) {
    it(name, () => {
      const disk = caseDisk(name);
      const expected = JSON.parse(readFileSync(path.join(CASES, name, "expected.json"), "utf8")) as Expected[];
      for (const want of expected) {
        const used = readUsedVersion(disk, path.join("/app", want.dir), want.package);
        const got = { dir: want.dir, package: want.package, version: used.version, from: used.from && path.relative("/app", used.from), range: used.range?.spec };
        assert.deepEqual(JSON.parse(JSON.stringify(got)), want, `${want.dir}: ${want.package}`);
      }
    });
  }
});

describe("ranges against a minimum", () => {
  it("tells a range that reaches only supported versions, both sides, or none", () => {
    const cases: [string, string, string][] = [
      ["^0.0.57", "0.5.0", "none"],
      [">=0.0.57", "0.5.0", "some"],
      ["^0.5.10", "0.5.0", "all"],
      ["~0.4.1", "0.5.0", "none"],
      ["0.4.x || ^0.5.2", "0.5.0", "some"],
      ["^0.4.1", "0.5.0", "none"],
      ["^0", "0.5.0", "some"],
      ["*", "0.0.10", "some"],
      ["", "0.0.10", "some"],
      ["1.2.3 - 1.4", "1.4.5", "some"],
      ["<0.5.0", "0.5.0", "none"],
      ["<=0.5", "0.5.0", "some"],
      [">= 4.79.0 < 5", "4.79.0", "all"],
      ["npm:partysocket@^0.0.10", "0.0.10", "all"],
      ["workspace:*", "0.5.0", "unknown"],
      ["latest", "0.5.0", "unknown"],
      ["file:../partyserver", "0.5.0", "unknown"],
    ];
    for (const [range, minimum, reach] of cases) assert.equal(rangeReach(range, minimum), reach, `${range} against ${minimum}`);
  });

  it("compares versions by their numbers, a prerelease as its release", () => {
    assert.ok(compareVersions("0.0.66", "0.5.0") < 0);
    assert.ok(compareVersions("1.20260329.1", "1.20260317.1") > 0);
    assert.equal(compareVersions("4.79.0-beta.1", "4.79.0"), 0);
  });
});

describe("findings for a version party-shard does not support", () => {
  const WHY_PARTYSERVER =
    "party-shard needs partyserver 0.5.0 or later, because the runtime's rooms take their names from ctx.id.name, which partyserver reads from 0.5.0 on (older ones answer every router socket 500 \"Missing namespace or room headers\")";

  it("names the version, where it was read, what is needed and why, and the upgrade in the project's package manager, at package.json's line", () => {
    const findings = versionFindings(caseDisk("npm-v3"), "/app", "/app", ["partyserver", "wrangler"]);
    assert.deepEqual(findings[0], {
      level: "manual",
      code: "version-unsupported",
      message: `partyserver 0.0.66 (package-lock.json) is too old: ${WHY_PARTYSERVER}. Upgrade it: \`npm install partyserver@^0.5.10\`.`,
      location: { file: "package.json", line: 4, col: 5 },
    });
    assert.match(findings[1]!.message, /^wrangler 3\.87\.0 \(package-lock\.json\) is too old: party-shard needs wrangler 4\.79\.0 or later, because .* Upgrade it: `npm install -D wrangler@\^4\.86\.0`\.$/);
    assert.deepEqual(findings[1]!.location, { file: "package.json", line: 7, col: 5 });
  });

  it("lets the lockfile decide where the range starts below the minimum but allows a supported version, and says so", () => {
    const [finding] = versionFindings(caseDisk("pnpm-v6"), "/app", "/app", ["partyserver"]);
    assert.equal(
      finding!.message,
      `partyserver 0.0.57 (pnpm-lock.yaml; the range >=0.0.57 in package.json's dependencies also allows 0.5.0 and later, and this is the version installed) is too old: ${WHY_PARTYSERVER}. Upgrade it: \`pnpm add partyserver@^0.5.10\`.`,
    );
  });

  it("refuses a range that allows no supported version, warns on one that allows both, and on a version it cannot read", () => {
    const [partyserver, wrangler] = versionFindings(caseDisk("range-only"), "/app", "/app", ["partyserver", "wrangler"]);
    assert.equal(partyserver!.code, "version-unsupported");
    assert.match(partyserver!.message, /^partyserver \^0\.0\.57 \(the range in package\.json's dependencies; no lockfile entry or installed copy to read\) allows no version party-shard supports: /);
    assert.equal(wrangler!.level, "warning");
    assert.match(wrangler!.message, /^Cannot tell which wrangler the project uses \(the range >=3\.0\.0 in package\.json's devDependencies allows versions older than 4\.79\.0, and no lockfile entry or installed copy says which one is used\): /);
    const [nothing] = versionFindings(caseDisk("nothing"), "/app", "/app", ["partyserver"]);
    assert.deepEqual(nothing, {
      level: "warning",
      code: "version-unknown",
      message: `Cannot tell which partyserver the project uses (no lockfile entry, no node_modules/partyserver and no range in package.json): ${WHY_PARTYSERVER}.`,
    });
  });

  it("reads a workspace client's own copy and upgrades it in its own folder, with the manager of the lockfile", () => {
    for (const [name, command] of [
      ["npm-workspace", "npm install partysocket@^1.3.0"],
      ["yarn-v1-workspace", "yarn add partysocket@^1.3.0"],
      ["pnpm-v9-workspace", "pnpm add partysocket@^1.3.0"],
      ["bun-workspace", "bun add partysocket@^1.3.0"],
    ]) {
      const findings = versionFindings(caseDisk(name!), "/app", "/app/apps/web/src", ["partysocket"]);
      assert.equal(findings.length, 1, name);
      assert.match(findings[0]!.message, new RegExp(`^partysocket 0\\.0\\.9 \\(${name === "bun-workspace" ? "bun\\.lock" : name!.startsWith("npm") ? "package-lock\\.json" : name!.startsWith("yarn") ? "yarn\\.lock" : "pnpm-lock\\.yaml"}\\) is too old: .* Upgrade it: \`${command!.replace(/[$^.*+?()[\]{}|]/g, "\\$&")}\` in apps/web\\.$`), name);
      assert.equal(findings[0]!.location?.file, "apps/web/package.json");
      // The root package's own copy is new enough.
      assert.deepEqual(versionFindings(caseDisk(name!), "/app", "/app", ["partysocket"]), [], name);
    }
  });

  it("is silent for supported versions and for a canary, whose age its version does not tell", () => {
    assert.deepEqual(versionFindings(caseDisk("yarn-berry"), "/app", "/app", ["partyserver"]), []);
    const canary = memoryDisk({ "/app/package.json": '{"devDependencies":{"partykit":"0.0.0-3228764"}}', "/app/node_modules/partykit/package.json": '{"version":"0.0.0-3228764"}' });
    assert.deepEqual(versionFindings(canary, "/app", "/app", ["partykit"]), []);
  });
});

describe("init and migrate refuse on an unsupported version", () => {
  const plan = (findings: Finding[]): Plan => ({ root: "/app", changes: [], findings });

  it("throws bad input (exit 2) with the finding's words, or each at its place when there are several; anything else passes", () => {
    assert.doesNotThrow(() => refuseUnsupportedVersions(plan(versionFindings(caseDisk("nothing"), "/app", "/app", ["partyserver"])), "init"));
    const one = versionFindings(caseDisk("npm-v3"), "/app", "/app", ["partyserver"]);
    assert.throws(
      () => refuseUnsupportedVersions(plan(one), "init"),
      (error: PartyShardError) =>
        error.exitCode === 2 && error.message === one[0]!.message && error.location?.line === 4 && error.hint === "Upgrade it with the command above, then run `npx party-shard init` again.",
    );
    const two = versionFindings(caseDisk("npm-v3"), "/app", "/app", ["partyserver", "wrangler"]);
    assert.throws(
      () => refuseUnsupportedVersions(plan(two), "migrate"),
      (error: PartyShardError) =>
        error.message === `2 packages are older than the generated code runs with:\npackage.json:4:5  ${two[0]!.message}\npackage.json:7:5  ${two[1]!.message}` &&
        error.location === undefined &&
        error.hint === "Upgrade them with the commands above, then run `npx party-shard migrate` again.",
    );
  });
});

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { readUsedVersion } from "../src/core/versions/read-version.js";
import { compareVersions, rangeReach } from "../src/core/versions/semver.js";
import { versionFindings } from "../src/core/versions/version-findings.js";
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

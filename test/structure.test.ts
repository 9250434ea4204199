import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";

const SRC = path.resolve(import.meta.dirname, "..", "src");

/** The TypeScript files under `src/<folder>`, as [path from src, text]. */
function sources(folder: string): [string, string][] {
  const dir = path.join(SRC, folder);
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => [path.join(folder, file).split(path.sep).join("/"), readFileSync(path.join(dir, file), "utf8")]);
}

describe("structure: what the folder names promise", () => {
  it("declares every flag once, in src/commands/flags.ts: commands compose them and add none of their own", () => {
    const declaring = sources("commands").filter(([file, text]) => file !== "commands/flags.ts" && /\.option\(|\.addOption\(|new Option\(/.test(text));
    assert.deepEqual(declaring.map(([file]) => file), []);
  });
});

describe("structure: commands never ask which platform", () => {
  it("finds no platform branch, platform name or platform module in src/commands (the adapter in src/platforms/ answers)", () => {
    const branching = /platform\s*[!=]==?|["'`](?:partykit|partyserver)["'`]|core\/(?:partykit|partyserver)\/|core\/config\/wrangler\/|platforms\/(?:partykit|partyserver)\//;
    const found = sources("commands").flatMap(([file, text]) => text.split("\n").flatMap((line, i) => (branching.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])));
    assert.deepEqual(found, []);
  });
});

/** The file system modules, however they are named: node:fs, fs, node:fs/promises, fs/promises. */
const FILE_SYSTEM = /^(?:node:)?fs(?:\/promises)?$/;

/** Each import (static, dynamic, type-only, require) of a file system module in `files`, as `<file> imports <module>`. */
function fileSystemImports(files: [string, string][]): string[] {
  return files.flatMap(([file, text]) =>
    ts
      .preProcessFile(text, true, true)
      .importedFiles.filter((imported) => FILE_SYSTEM.test(imported.fileName))
      .map((imported) => `${file} imports ${imported.fileName}`),
  );
}

// The core plans from what it is given; the platforms' adapters wire the core to src/infra and
// do no I/O of their own. The disk is src/infra's: both read it only through the Disk and
// ProjectReader of core/read-file.ts, which src/infra/disk.ts and project-reader.ts implement.
describe("structure: src/core and src/platforms read the disk only through the reader seam", () => {
  it("finds no file system import under src/core or src/platforms", () => {
    const files = [...sources("core"), ...sources("platforms")];
    assert.ok(files.length > 80, "the sources were read");
    assert.deepEqual(fileSystemImports(files), []);
  });

  it("the check finds a file system import in any of its forms", () => {
    const samples: [string, string][] = [
      ["a.ts", 'import { readFileSync } from "node:fs";\n'],
      ["b.ts", 'import { promises as fs } from "fs";\n'],
      ["c.ts", 'const fs = await import("node:fs/promises");\n'],
      ["d.ts", 'import type { Dirent } from "node:fs";\n'],
      ["e.ts", 'import path from "node:path";\nimport { fs } from "./fs.js";\n'],
    ];
    assert.deepEqual(fileSystemImports(samples), ["a.ts imports node:fs", "b.ts imports fs", "c.ts imports node:fs/promises", "d.ts imports node:fs"]);
  });
});

/** Every import (static, dynamic, type-only) of each file under src/, as [importer, imported] paths from src/. */
function imports(): [string, string][] {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((entry) => entry.isDirectory() && entry.name !== "runtime").map((entry) => entry.name);
  return ["cli.ts", "index.ts", ...folders].flatMap((folder) => (folder.endsWith(".ts") ? [[folder, readFileSync(path.join(SRC, folder), "utf8")] as [string, string]] : sources(folder))).flatMap(([file, text]) =>
    ts
      .preProcessFile(text, true, true)
      .importedFiles.filter((imported) => imported.fileName.startsWith("."))
      .map((imported): [string, string] => [file, path.posix.normalize(path.posix.join(path.posix.dirname(file), imported.fileName)).replace(/\.js$/, ".ts")]),
  );
}

/** The cycles of a graph given as edges: each strongly connected set of two or more nodes (Tarjan). */
function cycles(edges: [string, string][]): string[][] {
  const next = new Map<string, Set<string>>();
  for (const [from, to] of edges) next.set(from, (next.get(from) ?? new Set()).add(to));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) visit(to), low.set(node, Math.min(low.get(node)!, low.get(to)!));
      else if (stack.includes(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do component.push((member = stack.pop()!));
    while (member !== node);
    if (component.length > 1) found.push(component.sort());
  };
  for (const node of next.keys()) if (!index.has(node)) visit(node);
  return found;
}

describe("structure: the layering is what the folder names say", () => {
  const edges = imports();

  it("has no import cycle between core folders: each folder (src/core/partykit, src/core/migrate/client, ...) only imports folders that never import it back", () => {
    const folderEdges = edges
      .filter(([from, to]) => from.startsWith("core/") && to.startsWith("core/") && path.posix.dirname(from) !== path.posix.dirname(to))
      .map(([from, to]): [string, string] => [path.posix.dirname(from), path.posix.dirname(to)]);
    assert.ok(folderEdges.length > 20, "the import graph was read");
    assert.deepEqual(cycles(folderEdges), []);
  });

  it("imports downwards only: commands → platforms → core; core imports no command, platform, infra or ui module", () => {
    const layer = (file: string) => file.split("/")[0]!;
    const below: Record<string, string[]> = { core: ["core"], platforms: ["platforms", "core", "infra", "ui"], commands: ["commands", "platforms", "core", "infra", "ui"] };
    const upward = edges.filter(([from, to]) => below[layer(from)] && !to.endsWith("errors.ts") && !below[layer(from)]!.includes(layer(to)));
    assert.deepEqual(upward.map(([from, to]) => `${from} → ${to}`), []);
  });

  it("the cycle check finds a cycle when there is one", () => {
    assert.deepEqual(cycles([["core/a", "core/b"], ["core/b", "core/c"], ["core/c", "core/a"], ["core/c", "core/d"]]), [["core/a", "core/b", "core/c"]]);
  });
});

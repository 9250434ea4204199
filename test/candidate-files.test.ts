import assert from "node:assert/strict";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { socketCandidates, type SourceText } from "../src/core/migrate/client/candidate-files.js";
import { clientScope } from "../src/core/migrate/client/client-scope.js";
import { loadClientProject } from "../src/core/migrate/client/load-client-project.js";
import { disk } from "../src/infra/disk.js";
import { tempDir } from "./helpers/temp.js";

const noPackages = () => false;
const app = (files: Record<string, string>): SourceText[] => Object.entries(files).map(([file, text]) => ({ file: `/app/${file}`, text }));
const names = (files: string[]) => files.map((file) => file.slice("/app/".length));

describe("socketCandidates: which files can hold a socket, from text alone", () => {
  it("keeps files that name partysocket and drops ordinary code, even when it calls .send", () => {
    const found = socketCandidates(
      app({
        "chat.ts": `import PartySocket from "partysocket";\nexport const socket = new PartySocket({ host, room });\n`,
        "types.ts": `export type Props = { socket: import("partysocket").PartySocket };\n`,
        "mailer.ts": `const mailer = { send(to: string) {} };\nmailer.send("ops@example.com");\n`,
        "math.ts": `export const add = (a: number, b: number) => a + b;\n`,
      }),
      noPackages,
    );
    assert.deepEqual(names(found), ["chat.ts", "types.ts"]);
  });

  it("follows importers to a fixed point: relative paths with or without extension, folders, and default imports", () => {
    const found = socketCandidates(
      app({
        "net/feed.ts": `import PartySocket from "partysocket";\nexport default () => new PartySocket({ host, room });\n`,
        "net/index.ts": `export { default as openFeed } from "./feed.js";\n`,
        "ticker.ts": `import { openFeed } from "./net";\nexport const feed = openFeed();\n`,
        "page.tsx": `import { feed } from "../app/ticker";\nfeed.send("hi");\n`,
        "other.ts": `import { helper } from "./helper";\nhelper.send();\n`,
        "helper.ts": `export const helper = { send() {} };\n`,
      }),
      noPackages,
    );
    assert.deepEqual(names(found), ["net/feed.ts", "net/index.ts", "ticker.ts", "page.tsx"]);
  });

  it("matches a non-relative import (a path alias) by its last segment", () => {
    const found = socketCandidates(
      app({
        "lib/socket.ts": `import PartySocket from "partysocket";\nexport const socket = new PartySocket({ host, room });\n`,
        "ui/composer.ts": `import { socket } from "@/lib/socket";\nsocket.send("x");\n`,
        "ui/list.ts": `import { sort } from "@/lib/sort";\n`,
      }),
      noPackages,
    );
    assert.deepEqual(names(found), ["lib/socket.ts", "ui/composer.ts"]);
  });

  it("keeps importers of an installed package that depends on partysocket, asking once per package", () => {
    const asked: string[] = [];
    const lookup = (name: string) => {
      asked.push(name);
      return name === "@acme/realtime";
    };
    const found = socketCandidates(
      app({
        "a.ts": `import { feed } from "@acme/realtime/feeds";\nfeed.send("x");\n`,
        "b.ts": `import { feed } from "@acme/realtime";\nimport React from "react";\n`,
        "c.ts": `import React from "react";\nconst queue = { send() {} };\nqueue.send();\n`,
      }),
      lookup,
    );
    assert.deepEqual(names(found), ["a.ts", "b.ts"]);
    assert.deepEqual(asked.sort(), ["@acme/realtime", "react"]);
  });

  it("keeps a file with an any-typed value it calls .send on", () => {
    const found = socketCandidates(app({ "loose.ts": `let conn: any;\nconn.send("x");\n`, "typed.ts": `let count: number = 0;\nqueue.send(count);\n` }), noPackages);
    assert.deepEqual(names(found), ["loose.ts"]);
  });

  it("follows the globals a script or a declare global block defines to the files that use them", () => {
    const found = socketCandidates(
      app({
        "globals.ts": `import type PartySocket from "partysocket";\ndeclare global {\n  var lobby: PartySocket;\n}\nexport {};\n`,
        "wave.ts": `export function wave() {\n  lobby.send("wave");\n}\n`,
        "lobbyist.ts": `export const lobbyist = { send() {} };\nlobbyist.send();\n`,
        "legacy.js": `var room = new PartySocket({ host: host, room: "r" });\n`,
        "legacy-ui.js": `function post(text) { room.send(text); }\n`,
      }),
      noPackages,
    );
    assert.deepEqual(names(found), ["globals.ts", "wave.ts", "legacy.js", "legacy-ui.js"]);
  });
});

describe("loadClientProject: parses only the candidates", () => {
  it("reads package manifests from node_modules to find workspace packages built on partysocket", () => {
    const root = tempDir("candidates");
    const pkg = path.join(root, "node_modules", "@acme", "realtime");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "@acme/realtime", dependencies: { partysocket: "^1.0.0" } }));
    mkdirSync(path.join(root, "src"));
    writeFileSync(path.join(root, "src", "ticker.ts"), `import { feed } from "@acme/realtime";\nfeed.send("x");\n`);
    writeFileSync(path.join(root, "src", "mailer.ts"), `const mailer = { send() {} };\nmailer.send();\n`);
    const client = loadClientProject(disk, clientScope(disk, root), new Set());
    assert.deepEqual(client.candidates, [path.join(realpathSync(root), "src", "ticker.ts")]);
    assert.deepEqual(
      client.groups.flatMap((group) => group.project.getSourceFiles()).map((file) => path.basename(file.getFilePath())),
      ["ticker.ts"],
    );
  });
});

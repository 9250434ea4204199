import type { Node, SourceFile } from "ts-morph";
import type { SourceLocation } from "../errors.js";

/** info and warning are for reading; manual is work left for the user (it keeps `check` red). */
export type FindingLevel = "info" | "warning" | "manual";

interface FindingSpec {
  /** The levels a planner reports it at; two when the planner decides (a foreign block with a socket in it is manual). */
  levels: readonly FindingLevel[];
  /** An edited site: migrate counts them per file ("3 sends rewritten"); only --json lists each. */
  counted?: readonly [one: string, many: string];
  /** A site migrate still rewrites: what `check` says is left there, which keeps it red. */
  left?: string;
}

/**
 * Every finding any planner reports, and how each command shows it. A new finding is one entry
 * here: its code, level, migrate's count and check's item all follow from it.
 */
export const FINDINGS = {
  // init, check
  "up-to-date": { levels: ["info"] },
  "router-outdated": { levels: ["warning"] },
  // check: capacity (src/core/capacity/saved-plan.ts)
  "free-plan-subrequests": { levels: ["warning"] },
  "plan-not-carried": { levels: ["warning"] },
  "plan-needs-more-shards": { levels: ["warning"] },
  // migrate, server half
  "party-patched": {
    levels: ["info"],
    counted: ["party patched", "parties patched"],
    left: "the party does not lead its shards yet: its export needs sharded() (party-shard migrate)",
  },
  "party-not-patchable": { levels: ["manual"] },
  "old-patch-left": { levels: ["manual"] },
  "party-is-build-output": { levels: ["manual"] },
  // migrate, client half
  "socket-routed": {
    levels: ["info"],
    counted: ["socket routed", "sockets routed"],
    left: "socket connects to the sharded party directly, not through the router (party-shard migrate)",
  },
  "socket-keyed": {
    levels: ["info"],
    counted: ["socket keyed", "sockets keyed"],
    left: "socket connects through the router without a write key (party-shard migrate)",
  },
  "send-rewritten": {
    levels: ["info"],
    counted: ["send rewritten", "sends rewritten"],
    left: "socket.send is not routed yet: it reaches the room through its shard, not as a retried write (party-shard migrate)",
  },
  "raw-socket-routed": {
    levels: ["info"],
    counted: ["raw WebSocket routed", "raw WebSockets routed"],
    left: "WebSocket connects to the sharded party directly, not through the router (party-shard migrate)",
  },
  "raw-socket-direct": { levels: ["manual"] },
  "provider-routed": {
    levels: ["info"],
    counted: ["Yjs provider routed", "Yjs providers routed"],
    left: "Yjs provider connects to the sharded party directly, not through the router (party-shard migrate)",
  },
  "provider-keyed": {
    levels: ["info"],
    counted: ["Yjs provider keyed", "Yjs providers keyed"],
    left: "Yjs provider connects through the router without a write key (party-shard migrate)",
  },
  "provider-not-routed": { levels: ["manual"] },
  "raw-send": { levels: ["manual"] },
  "send-unclassified": { levels: ["manual"] },
  "send-not-called": { levels: ["manual"] },
  "send-dynamic": { levels: ["manual"] },
  "send-any": { levels: ["manual"] },
  "party-unknown": { levels: ["manual"] },
  "parse-error": { levels: ["manual"] },
  "script-lang-unsupported": { levels: ["manual", "info"] },
  "send-outside-block": { levels: ["manual"] },
  "not-utf8": { levels: ["manual"] },
  "partysocket-missing": { levels: ["manual"] },
  "tsconfig-partly-read": { levels: ["warning"] },
  "link-outside-project": { levels: ["warning"] },
  "other-partykit-project": { levels: ["info"] },
  // init and migrate: the runtime package the generated files import
  "runtime-dependency": { levels: ["info", "manual"] },
  "vendored-runtime-unused": { levels: ["info"] },
  // init, migrate and check: a package older than the generated code runs with (init and
  // migrate refuse it; check lists it), or one whose version cannot be read
  "version-unsupported": { levels: ["manual"] },
  "version-unknown": { levels: ["warning"] },
  // PartyServer: migrate's server half, init and check. Each shows on its own line after migrate:
  // a class or a Worker is one per file.
  "class-swapped": {
    levels: ["info"],
    left: "the class does not lead its shards yet: it extends Server or YServer, not Sharded or shardedServer(YServer) (party-shard migrate)",
  },
  "class-not-swappable": { levels: ["manual"] },
  "server-override": { levels: ["info", "manual"] },
  "handler-field": { levels: ["manual", "info"] },
  "worker-routed": {
    levels: ["info"],
    left: "routePartykitRequest is not routed through the shards yet: it should be routePartyShard (party-shard migrate)",
  },
  "middleware-routed": {
    levels: ["info"],
    left: "partyserverMiddleware is not routed through the shards yet: it should be withPartyShard(partyserverMiddleware) (party-shard migrate)",
  },
  "middleware-mount": { levels: ["manual"] },
  "router-unreachable": { levels: ["manual"] },
  "binding-used-directly": { levels: ["manual"] },
  "jurisdiction-unsupported": { levels: ["manual"] },
  // Named for PartyServer's init and check, which report these as check items, not findings yet.
  "router-not-exported": { levels: ["manual"] },
  "router-config": { levels: ["manual"] },
  // PartyServer: client half
  "socket-main-party": { levels: ["warning"] },
} as const satisfies Record<string, FindingSpec>;

export type FindingCode = keyof typeof FINDINGS;

/** The levels `code` may be reported at: a planner reporting another does not compile. */
export type LevelOf<Code extends FindingCode> = (typeof FINDINGS)[Code]["levels"][number];

/** Something the user should know: a skipped site, a manual step, a no-op. */
export type Finding = {
  [Code in FindingCode]: { level: LevelOf<Code>; code: Code; message: string; location?: SourceLocation };
}[FindingCode];

/** How `code` is shown, read through the wider type (the table itself is narrowed by `as const`). */
export function findingSpec(code: FindingCode): FindingSpec {
  return FINDINGS[code];
}

/** A finding located at `node` (or the file's start), with the file's path filled in later by the planner. */
export function findingAt<Code extends FindingCode>(file: SourceFile, node: Node | undefined, level: LevelOf<Code>, code: Code, message: string): Finding {
  const position = node ? file.getLineAndColumnAtPos(node.getStart()) : { line: 1, column: 1 };
  return { level, code, message, location: { file: file.getFilePath(), line: position.line, col: position.column } } as Finding;
}

import type { Platform } from "../platform.js";

/**
 * The oldest version of each package the generated code runs with, and why: init and migrate
 * refuse an older one, check reports one that drifted below. Each minimum was found, not
 * guessed; how is said beside it. `upgrade` is what the refusal's command installs: the version
 * party-shard's own tests run.
 */
export interface Supported {
  minimum: string;
  /** The range the upgrade command asks for. */
  upgrade: string;
  /** Installed as a dev dependency unless the project lists it elsewhere. */
  dev: boolean;
  /** What needs the minimum, as a refusal says it ("… or later: <why>"). */
  why: string;
}

export const SUPPORTED = {
  // The runtime (src/runtime/partyserver.ts) addresses the rooms of the sharded class and of the
  // router with stub.fetch and no x-partykit-room header, so each room must take its name from
  // ctx.id.name: partyserver does from 0.5.0 on. 0.4.1 still throws "Missing namespace or room
  // headers" there (its dist/index.js Server.fetch), which the router answers as a 500, and
  // every write as a 425. The types agree one step earlier: src/runtime/partyserver.ts and
  // worker-route.ts type-check against the .d.ts of 0.4.1 and 0.5.x, not 0.4.0
  // (`setName(name, props)` takes one argument there), nor 0.3.x (no `__unsafe_ensureInitialized`
  // before 0.3.3, and `Server`'s connection type differs).
  partyserver: {
    minimum: "0.5.0",
    upgrade: "^0.5.10",
    dev: false,
    why: "the runtime's rooms take their names from ctx.id.name, which partyserver reads from 0.5.0 on (older ones answer every router socket 500 \"Missing namespace or room headers\")",
  },
  // ctx.id.name inside a Durable Object, which partyserver 0.5 and the runtime's router
  // (ShardRouter reads it to tell placement rooms from shards) rely on, is workerd's since
  // 1.20260329.1 (workerd PR 6421, "Support ctx.id.name in local dev"). wrangler pins workerd
  // exactly: 4.78.0 runs 1.20260317.1, 4.79.0 runs 1.20260329.1. Probed with a Durable Object
  // reached by idFromName("room-1") answering its ctx.id.name on `wrangler dev`: 4.78.0 → null,
  // 4.79.0 → "room-1". Both export `env` from cloudflare:workers, which partyserver imports from
  // 0.1.0 on (wrangler 3.87's cloudflare:workers has no `env`, so it cannot start it).
  wrangler: {
    minimum: "4.79.0",
    upgrade: "^4.86.0",
    dev: true,
    why: "partyserver 0.5 and the runtime's router read a room's name from ctx.id.name, which wrangler dev's workerd sets from wrangler 4.79.0 (workerd 1.20260329.1) on",
  },
  // src/runtime/partykit.ts and the rendered router and glue type-check against the server.d.ts
  // of partykit 0.0.53 to 0.0.115, each with the @cloudflare/workers-types it pins; 0.0.47 (the
  // release before 0.0.53) has no `Party.Room` (the room was `Party.Party`), which the runtime,
  // the router and the party it wraps are written against. verify needs 0.0.114 for its dev
  // server flags (src/infra/dev-version.ts).
  partykit: {
    minimum: "0.0.53",
    upgrade: "^0.0.115",
    dev: true,
    why: "the runtime and the generated router are written against partykit's Party.Room, which it has from 0.0.53 on",
  },
  // The oldest the live tests connect with (test/live/migrate-live.test.ts, the
  // `partysocket-oldest` dev dependency). 0.0.9 types `query` values as string only, so a socket's
  // `query: shardKey(…)` (values string | null | undefined) does not type-check, and it puts an
  // undefined value in the URL as "undefined" where 0.0.10 leaves it out.
  partysocket: {
    minimum: "0.0.10",
    upgrade: "^1.3.0",
    dev: false,
    why: "shardKey() gives a socket's query values that may be null or undefined, which partysocket takes from 0.0.10 on",
  },
} as const satisfies Record<string, Supported>;

export type SupportedPackage = keyof typeof SUPPORTED;

/** The packages the Worker's (or PartyKit project's) package must have in a supported version, per platform. */
export const SERVER_PACKAGES = {
  partykit: ["partykit"],
  partyserver: ["partyserver", "wrangler"],
} as const satisfies Record<Platform, readonly SupportedPackage[]>;

/** What each package with client code that imports partysocket must have. */
export const CLIENT_PACKAGES = ["partysocket"] as const satisfies readonly SupportedPackage[];

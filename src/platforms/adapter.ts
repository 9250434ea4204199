import type { CheckOptions, CheckResult } from "../core/check/check-result.js";
import type { MigrateOptions } from "../core/migrate/migrate-options.js";
import type { InitOptions, InitPlan, SetupPlan } from "../core/plan.js";
import type { Platform } from "../core/platform.js";
import type { Disk } from "../core/read-file.js";
import type { DevServer } from "../infra/dev-process.js";
import type { Prompts } from "../ui/prompts.js";

/**
 * What party-shard does on one platform. Commands call these and never ask which platform it
 * is: a third target is one more folder beside `partykit/` and `partyserver/`, and a line in
 * `index.ts`.
 */
export interface PlatformAdapter {
  readonly platform: Platform;
  /** Reads the project's config (`config`: the file --config names); the project is read from `disk`. */
  load(cwd: string, config: string | undefined, disk: Disk): Promise<PlatformProject>;
}

/** A project whose config is read, with what each command does on its platform. */
export interface PlatformProject {
  readonly platform: Platform;
  /** The dev server verify boots, as messages name it: `partykit dev`, `wrangler dev`. */
  readonly devServer: string;
  /**
   * init's first step: refuses flags the platform does not take, says what it found and, when it
   * may ask, asks which party to shard. Returns the party for `shardCount` and `planInit`.
   */
  chooseParty(request: InitRequest, io: InitIo): Promise<string | undefined>;
  /** The shard count init keeps for the party: its router's current one, if it has one. */
  shardCount(request: Pick<InitRequest, "party" | "name">): Promise<number | undefined>;
  /** What init would change. Writes nothing. */
  planInit(request: InitRequest): Promise<InitPlan>;
  planMigrate(options: MigrateOptions): Promise<SetupPlan>;
  planCheck(options: CheckOptions): Promise<CheckResult>;
  /** The server and router verify runs; a dev server too old for verify is refused here, before anything starts. */
  verifyTarget(router: string | undefined): Promise<VerifyTarget>;
}

/** init's flags, as the command checked them (the planners' InitOptions). */
export type InitRequest = InitOptions;

/** How init talks to the user while it plans. */
export interface InitIo {
  prompts: Prompts;
  /** A line for the user (init's first line says what it found). */
  info(text: string): void;
}

/** What verify runs and where its probe connects, for one project. */
export interface VerifyTarget {
  platform: Platform;
  root: string;
  /** The dev server's name in messages: `partykit dev` or `wrangler dev`. */
  devServer: string;
  /** The router's URL name: clients connect to `/parties/<router>/<room>`, its load view is a GET there. */
  router: string;
  /**
   * The party the router shards: its name as init and migrate report it (`main`, `Chat`), its
   * file, and its URL name (`main`, `chat`), where the unsharded run connects. Undefined when
   * `--router` names a router init did not generate.
   */
  party?: { name: string; file: string; url: string };
  shards?: number;
  /** Every party's URL name, which a setup request may address. */
  parties: string[];
  start(options: { signal: AbortSignal; persist: string }): Promise<DevServer>;
}

/** Party names have no dots or slashes (PARTY_NAME_PATTERN); a file has one or the other. */
export const namesFile = (party: string) => /[./\\]/.test(party);

/** A Durable Object binding of a wrangler config (`durable_objects.bindings[]`). */
export interface DurableBinding {
  /** The binding's name: `env.<name>` in the Worker, and `/parties/<kebab(name)>/` for clients. */
  name: string;
  /** The exported class it binds. */
  className: string;
  /** Set when the class lives in another Worker. */
  scriptName?: string;
  /** 1-based line of the binding in the config, for findings. */
  line?: number;
}

/** One `env.<name>` section, as far as Durable Objects go. */
export interface WranglerEnv {
  /**
   * Undefined when the env declares no `durable_objects`: wrangler does not inherit
   * durable_objects into an env, so such an env has none at all.
   */
  bindings: DurableBinding[] | undefined;
  /** 1-based line of the env's `durable_objects` (else of the env itself). */
  line?: number;
  /** Set only when the env declares `migrations` of its own (it then replaces the top level's). */
  migrations?: WranglerMigrations;
}

export interface WranglerMigrations {
  /** Tags of `migrations[]`, in order. */
  tags: string[];
  /**
   * Classes the migrations leave in place, applied in order: created by `new_classes`,
   * `new_sqlite_classes`, a rename's or transfer's `to`; removed by `deleted_classes` and a rename's `from`.
   */
  classes: string[];
  /** 1-based line of `migrations`. */
  line?: number;
}

/** What party-shard reads of a PartyServer project's wrangler config. */
export interface LoadedWrangler {
  platform: "partyserver";
  /** The project root: the folder the config file is in (absolute). */
  root: string;
  /** The config file, relative to `root` (`wrangler.jsonc`, `wrangler.json` or `wrangler.toml`). */
  file: string;
  format: "json" | "jsonc" | "toml";
  /** The config's text as read (edits are planned on it). */
  text: string;
  name?: string;
  /** The Worker's main module, root-relative POSIX path. */
  main: string;
  /** Top-level Durable Object bindings. */
  bindings: DurableBinding[];
  /** 1-based line of the top-level `durable_objects`, when there is one. */
  durableObjectsLine?: number;
  /** Each `env.<name>` section. */
  envs: Record<string, WranglerEnv>;
  /** Tags of the top-level `migrations[]`, in order. */
  migrationTags: string[];
  /** Classes the top-level migrations leave in place (see `WranglerMigrations.classes`). */
  migratedClasses: string[];
  /** 1-based line of the top-level `migrations`, when there is one. */
  migrationsLine?: number;
}

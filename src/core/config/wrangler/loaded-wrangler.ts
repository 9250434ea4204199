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
  /**
   * Each `env.<name>` section. `bindings` is undefined when the env declares no `durable_objects`
   * (wrangler does not inherit durable_objects into an env: such an env has none at all).
   */
  envs: Record<string, { bindings: DurableBinding[] | undefined }>;
  /** Tags of `migrations[]`, in order. */
  migrationTags: string[];
  /** Classes a migration creates (`new_classes`, `new_sqlite_classes`, a rename's `to`). */
  migratedClasses: string[];
}

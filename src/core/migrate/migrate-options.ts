import type { OnProgress } from "../plan.js";

export type WritesMode = "routed" | "socket";

/** What migrate is asked, on either platform. */
export interface MigrateOptions {
  force: boolean;
  /** Folders (absolute) to look for client code in, instead of the whole repository around the config. */
  clientDirs?: string[];
  /** How routed sockets write (`--writes`): sendViaRouter (default) or their own send, relayed by their shard. */
  writes?: WritesMode;
  /** `--vendor`/`--no-vendor`: the runtime copied into the project, or imported from the package; by default as it is now. */
  vendor?: boolean;
  /** Called as client files are read, parsed and analysed. */
  onProgress?: OnProgress;
}

/** A place in a config: property names and array indexes, as `["env", "production", "durable_objects"]`. */
export type ConfigPath = (string | number)[];

/** A wrangler config read in any of its formats: the data, and where its parts are written. */
export interface ReadConfig {
  data: unknown;
  /** 1-based line of the key (or array element) at `path`, when it can be told cheaply. */
  lineOf(path: ConfigPath): number | undefined;
}

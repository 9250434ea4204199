/** What a lockfile reader is asked: the package, and whose dependency it is. */
export interface LockQuery {
  /** The package's folder from the lockfile's, POSIX; `.` when they are the same. */
  importer: string;
  name: string;
  /** The range the package's package.json gives it, which names its entry in yarn.lock. */
  range?: string;
  /** The package's own name (package.json `name`), by which bun.lock keys a workspace's own copies. */
  packageName?: string;
}

import path from "node:path";
import type { Disk } from "./read-file.js";

/** The parts of a package.json party-shard reads. */
export interface Manifest {
  name?: unknown;
  workspaces?: unknown;
  packageManager?: unknown;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** `dir`'s package.json, or undefined when there is none or it is not a JSON object. */
export function readManifest(disk: Disk, dir: string): Manifest | undefined {
  try {
    const manifest: unknown = JSON.parse(disk.readText(path.join(dir, "package.json")));
    return typeof manifest === "object" && manifest !== null ? (manifest as Manifest) : undefined;
  } catch {
    return undefined;
  }
}

import { readFileSync } from "node:fs";
import path from "node:path";

/** The parts of a package.json party-shard reads. */
export interface Manifest {
  name?: unknown;
  workspaces?: unknown;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** `dir`'s package.json, or undefined when there is none or it is not a JSON object. */
export function readManifest(dir: string): Manifest | undefined {
  try {
    const manifest: unknown = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
    return typeof manifest === "object" && manifest !== null ? (manifest as Manifest) : undefined;
  } catch {
    return undefined;
  }
}

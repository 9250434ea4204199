import { findUp } from "../find-up.js";
import type { ReadFile } from "../read-file.js";
import type { Finding } from "../plan.js";

const LOCKFILES: [string, string][] = [
  ["pnpm-lock.yaml", "pnpm add partysocket"],
  ["yarn.lock", "yarn add partysocket"],
  ["bun.lockb", "bun add partysocket"],
  ["bun.lock", "bun add partysocket"],
  ["package-lock.json", "npm install partysocket"],
];

/**
 * A finding when client code uses partysocket but the project's package.json does not list it,
 * with the install command for the package manager the project uses.
 */
export async function missingPartysocket(root: string, read: ReadFile, clientUsesPartysocket: boolean): Promise<Finding | undefined> {
  if (!clientUsesPartysocket) return undefined;
  const text = await read("package.json");
  if (text === null) return undefined;
  let manifest: { dependencies?: object; devDependencies?: object; packageManager?: string };
  try {
    manifest = JSON.parse(text);
  } catch {
    return undefined;
  }
  if ("partysocket" in (manifest.dependencies ?? {}) || "partysocket" in (manifest.devDependencies ?? {})) return undefined;
  const declared = manifest.packageManager?.split("@")[0];
  const command =
    (declared && LOCKFILES.find(([, install]) => install.startsWith(declared))?.[1]) ??
    // A workspace package's lockfile is the repository's, above it.
    LOCKFILES.find(([lockfile]) => findUp(root, lockfile) !== undefined)?.[1] ??
    "npm install partysocket";
  return {
    level: "manual",
    code: "partysocket-missing",
    message: `The client code uses partysocket, but package.json does not list it. Run: ${command}`,
    location: { file: "package.json" },
  };
}

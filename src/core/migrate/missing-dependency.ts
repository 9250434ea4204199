import { findUp } from "../find-up.js";
import type { ReadFile } from "../read-file.js";
import type { Finding } from "../plan.js";

const LOCKFILES: [string, string][] = [
  ["pnpm-lock.yaml", "pnpm add"],
  ["yarn.lock", "yarn add"],
  ["bun.lockb", "bun add"],
  ["bun.lock", "bun add"],
  ["package-lock.json", "npm install"],
];

/**
 * The command that adds `spec` with the package manager a package uses: the one its
 * package.json declares, else the one whose lockfile is in `dir` or above (a workspace
 * package's lockfile is the repository's), else npm. With no spec, the install command.
 */
export function installCommand(dir: string, manifest: { packageManager?: unknown }, spec?: string): string {
  const declared = typeof manifest.packageManager === "string" ? manifest.packageManager.split("@")[0] : undefined;
  const add =
    (declared && LOCKFILES.find(([, command]) => command.startsWith(declared))?.[1]) ??
    LOCKFILES.find(([lockfile]) => findUp(dir, lockfile) !== undefined)?.[1] ??
    "npm install";
  return spec ? `${add} ${spec}` : `${add.split(" ")[0]} install`;
}

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
  return {
    level: "manual",
    code: "partysocket-missing",
    message: `The client code uses partysocket, but package.json does not list it. Run: ${installCommand(root, manifest, "partysocket")}`,
    location: { file: "package.json" },
  };
}

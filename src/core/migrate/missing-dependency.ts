import { installCommand } from "../install-command.js";
import type { Disk, ReadFile } from "../read-file.js";
import type { Finding } from "../plan.js";

/**
 * A finding when client code uses partysocket but the project's package.json does not list it,
 * with the install command for the package manager the project uses.
 */
export async function missingPartysocket(disk: Disk, root: string, read: ReadFile, clientUsesPartysocket: boolean): Promise<Finding | undefined> {
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
    message: `The client code uses partysocket, but package.json does not list it. Run: ${installCommand(disk, root, manifest, "partysocket")}`,
    location: { file: "package.json" },
  };
}

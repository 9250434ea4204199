import { readFileSync } from "node:fs";
import type { PackageFiles } from "../core/package-info.js";

// The same from src/infra (tsx) and dist/infra (the build): two folders below the package's root.
const PACKAGE_ROOT = new URL("../../", import.meta.url);

export const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL("package.json", PACKAGE_ROOT), "utf8")) as { version: string }).version;

/** The installed party-shard's templates, runtime sources and version. */
export const packageFiles: PackageFiles = {
  version: PACKAGE_VERSION,
  template: (name) => readFileSync(new URL(`templates/${name}.tpl`, PACKAGE_ROOT), "utf8"),
  runtimeModule: (name) => readFileSync(new URL(`src/runtime/${name}.ts`, PACKAGE_ROOT), "utf8").replaceAll("\r\n", "\n"),
};

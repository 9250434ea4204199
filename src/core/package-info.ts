import { readFileSync } from "node:fs";

/** This package as users install it: its name, version, and the folder --vendor copies the runtime into. */
export const PACKAGE_NAME = "party-shard";
export const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
/** Beside the generated file that imports it. */
export const VENDOR_DIR = "party-shard-runtime";

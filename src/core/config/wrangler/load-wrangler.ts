import path from "node:path";
import { PartyShardError } from "../../../errors.js";
import { findUp } from "../../find-up.js";
import { readConfigText, type Disk } from "../../read-file.js";
import type { LoadedWrangler } from "./loaded-wrangler.js";
import { readJsonConfig } from "./read-json.js";
import { readTomlConfig } from "./read-toml.js";
import { readBindings, readMigrations, fail, isRecord, type Reader } from "./read-sections.js";

/** The names wrangler 4.86 looks for, in its order (`findWranglerConfig`): each one upward before the next. */
export const WRANGLER_CONFIG_NAMES = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

/** The wrangler config wrangler itself would use from `cwd`, or undefined. */
export function findWranglerConfig(disk: Disk, cwd: string): string | undefined {
  for (const name of WRANGLER_CONFIG_NAMES) {
    const found = findUp(disk, cwd, name, "file");
    if (found) return found;
  }
  return undefined;
}

/** Finds and reads the wrangler config the way wrangler does, or the one `--config` names. */
export async function loadWrangler(disk: Disk, cwd: string, explicit?: string): Promise<LoadedWrangler> {
  const file = explicit ? path.resolve(cwd, explicit) : findWranglerConfig(disk, cwd);
  if (!file) {
    throw new PartyShardError(`No wrangler config found in ${cwd} or any folder above it.`, {
      hint: `Run party-shard in a PartyServer project (one with ${WRANGLER_CONFIG_NAMES.join(", ")}), or pass --cwd/--config.`,
    });
  }
  const text = readConfigText(disk, file, "the wrangler config");
  return parseWrangler(path.dirname(file), path.basename(file), text);
}

/** The format of a wrangler config by its name: `.toml`, `.jsonc`, else JSON (wrangler reads that with comments too). */
function wranglerFormat(file: string): LoadedWrangler["format"] {
  return file.endsWith(".toml") ? "toml" : file.endsWith(".jsonc") ? "jsonc" : "json";
}

/** The pure half of `loadWrangler`: validates `text` as the wrangler config `file` in `root`. */
export function parseWrangler(root: string, file: string, text: string): LoadedWrangler {
  const format = wranglerFormat(file);
  const read = format === "toml" ? readTomlConfig(file, text) : readJsonConfig(file, text);
  const reader: Reader = { file, lineOf: read.lineOf };
  const data = read.data;
  if (!isRecord(data)) fail(reader, [], `${file} must be an object (a table of settings).`);
  const main = readMain(reader, data.main, root);
  const top = readBindings(reader, data.durable_objects, []);
  const migrations = readMigrations(reader, data.migrations, []);
  const envs: LoadedWrangler["envs"] = {};
  if (data.env !== undefined && !isRecord(data.env)) fail(reader, ["env"], `"env" in ${file} must map environment names to their settings.`);
  for (const [name, env] of Object.entries(data.env ?? {})) {
    if (!isRecord(env)) fail(reader, ["env", name], `"env.${name}" in ${file} must be an object (a table of settings).`);
    const bindings = readBindings(reader, env.durable_objects, ["env", name]);
    const own = env.migrations === undefined ? undefined : readMigrations(reader, env.migrations, ["env", name]);
    envs[name] = {
      bindings: bindings?.bindings,
      line: bindings?.line ?? reader.lineOf(["env", name]),
      ...(own ? { migrations: own } : {}),
    };
  }
  return {
    platform: "partyserver",
    root,
    file,
    format,
    text,
    name: typeof data.name === "string" ? data.name : undefined,
    main,
    bindings: top?.bindings ?? [],
    durableObjectsLine: top?.line,
    envs,
    migrationTags: migrations?.tags ?? [],
    migratedClasses: migrations?.classes ?? [],
    migrationsLine: migrations?.line,
  };
}

function readMain(reader: Reader, main: unknown, root: string): string {
  if (typeof main !== "string" || main.trim() === "") {
    fail(reader, ["main"], `${reader.file} has no "main": party-shard needs the Worker whose Durable Objects it shards.`, 'Add "main": "src/server.ts" (the module that exports your Server classes) to the config.');
  }
  const relative = path.relative(root, path.resolve(root, main)).split(path.sep).join("/");
  if (relative === "" || relative.startsWith("../") || relative === ".." || path.isAbsolute(relative)) {
    fail(reader, ["main"], `"main" in ${reader.file} (${main}) is outside the project folder ${root}.`, "party-shard edits the Worker's main module and writes beside it, so it must live under the folder of the wrangler config.");
  }
  return relative;
}

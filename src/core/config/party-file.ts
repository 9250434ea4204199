import path from "node:path";
import { Node } from "ts-morph";
import { PartyShardError, type SourceLocation } from "../../errors.js";
import type { ReadFile } from "../read-file.js";
import { findProperty, locate } from "./config-document.js";
import type { LoadedConfig } from "./load-config.js";

/**
 * The root-relative path and text of a party's file (`main` or an entry of `parties`), after
 * checking that it is a file inside the project; every error points at the config entry.
 */
export async function readPartyFile(loaded: LoadedConfig, party: string, read: ReadFile): Promise<{ file: string; text: string }> {
  const { main, parties } = loaded.config;
  const entry = party === "main" ? main : Object.hasOwn(parties, party) ? parties[party] : undefined;
  const where = partyEntryLocation(loaded, party);
  const what = party === "main" ? `"main" in ${loaded.file}` : `Party "${party}" in ${loaded.file}`;
  if (entry === undefined) throw new PartyShardError(`${what} is not set.`, { location: where });
  const file = configFilePath(entry);
  if (!insideRoot(file)) {
    throw new PartyShardError(`${what} is ${entry}, outside the project root.`, { location: where, hint: "Keep the party's file inside the project." });
  }
  let text: string | null;
  try {
    text = await read(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EISDIR") throw error;
    throw new PartyShardError(`${what} is ${entry}, which is a folder, not the party's file.`, {
      location: where,
      hint: "Point it at the file that exports the party, e.g. src/server.ts.",
    });
  }
  if (text === null) {
    throw new PartyShardError(`${what} is ${entry}, which does not exist.`, {
      location: where,
      hint: "Point it at the file that exports the party, or create that file.",
    });
  }
  return { file, text };
}

/** Where `main`, or `parties[party]`, is written in the config. */
export function partyEntryLocation(loaded: LoadedConfig, party: string): SourceLocation {
  const { document, file } = loaded;
  const parties = findProperty(document.config, "parties");
  const initializer = parties?.getInitializer();
  const node =
    party === "main"
      ? findProperty(document.config, "main")
      : (Node.isObjectLiteralExpression(initializer) ? findProperty(initializer, party) : undefined) ?? parties;
  return { file, ...(node ? locate(document, node) : {}) };
}

/** A file named in the config (`"./src/server.ts"`), as the root-relative POSIX path plans use. */
export function configFilePath(entry: string): string {
  return path.posix.normalize(entry.replaceAll("\\", "/"));
}

export function insideRoot(file: string): boolean {
  return file !== ".." && !file.startsWith("../") && !path.posix.isAbsolute(file);
}

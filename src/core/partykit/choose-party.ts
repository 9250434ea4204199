import path from "node:path";
import { PartyShardError } from "../../errors.js";
import type { LoadedConfig } from "../config/load-config.js";
import { configFilePath, insideRoot, partyEntryLocation, readPartyFile } from "../config/party-file.js";
import type { ReadFile } from "../read-file.js";
import { buildOutputReason, sourcesOf } from "./build-output.js";
import { socketHandlers } from "./party-handlers.js";
import { isGeneratedFile } from "../generated-file.js";

/** The party init shards: its name in the config, and the file whose default export is that party. */
export interface ChosenParty {
  party: string;
  file: string;
  text: string;
}

/** Where a party's source usually is, for when `main` is a build output that names none. */
const USUAL_FILES = ["src/server.ts", "src/party.ts", "src/index.ts", "party/index.ts", "party/server.ts", "party/main.ts", "server.ts", "index.ts"];

/**
 * Resolves `--party`: a party name, a file of the config (`main` or a `parties` entry), or, when
 * `main` is a build output, the source file it is built from. Without it, `main` is chosen only
 * if it is a party's source with WebSocket handlers; otherwise init stops (exit 2) and names
 * the parties that have them, since a router for the wrong party shards nothing.
 */
export async function chooseParty(loaded: LoadedConfig, option: string | undefined, read: ReadFile): Promise<ChosenParty> {
  const { config } = loaded;
  if (option !== undefined && (option === "main" || Object.hasOwn(config.parties, option))) {
    return { party: option, ...(await readPartyFile(loaded, option, read)) };
  }
  if (option !== undefined && !/[./\\]/.test(option)) {
    const known = ["main", ...Object.keys(config.parties)].join(", ");
    throw new PartyShardError(`--party ${option} is not a party in ${loaded.file} (it has: ${known}).`, {
      location: partyEntryLocation(loaded, "parties"),
      hint: "Pass a party's name, or the file that exports it.",
    });
  }
  const main = await readPartyFile(loaded, "main", read);
  const built = buildOutputReason(main.file, main.text);
  if (option !== undefined) return chooseFile(loaded, option, built, read);
  const handlers = built ? undefined : socketHandlers(main.file, main.text);
  if (!built && handlers?.kind !== "none") return { party: "main", ...main };

  const why = built ? `a build output (${built})` : "a party without WebSocket handlers (no onConnect, onMessage or onClose)";
  const candidates = await candidateParties(loaded, main, built !== undefined, read);
  const listed = candidates.map((candidate) => `  ${candidate.file}${candidate.note ? ` (${candidate.note})` : ""}: ${candidate.handlers.join(", ")}`);
  throw new PartyShardError(
    [
      `"main" in ${loaded.file} is ${main.file}, ${why}; init shards nothing there.`,
      candidates.length > 0 ? `Parties with WebSocket handlers:\n${listed.join("\n")}` : "No party file with WebSocket handlers was found.",
    ].join("\n"),
    {
      location: partyEntryLocation(loaded, "main"),
      hint: candidates.length > 0 ? `Pick one with --party <file>, e.g. --party ${candidates[0]!.file}` : "Pass the party's source file with --party <file>.",
    },
  );
}

/** `--party <file>`: a file of the config, or the source of a `main` that is a build output. */
async function chooseFile(loaded: LoadedConfig, option: string, built: string | undefined, read: ReadFile): Promise<ChosenParty> {
  const absolute = path.resolve(loaded.root, option);
  const file = path.relative(loaded.root, absolute).split(path.sep).join("/");
  if (!insideRoot(file) || file === "") throw new PartyShardError(`--party ${absolute} is outside the project root ${loaded.root}.`);
  for (const [party, entry] of Object.entries({ main: loaded.config.main, ...loaded.config.parties })) {
    if (configFilePath(entry) === file) return { party, ...(await readPartyFile(loaded, party, read)) };
  }
  if (!built) {
    throw new PartyShardError(`--party ${file} is not the file of a party in ${loaded.file}, and "main" is not a build output it could be the source of.`, {
      location: partyEntryLocation(loaded, "parties"),
      hint: "Add it to `parties` in the config (or point `main` at it), then run init again.",
    });
  }
  const text = await read(file).catch(() => null);
  if (text === null) throw new PartyShardError(`--party ${file} does not exist.`, { hint: "Pass the file that exports the party." });
  return { party: "main", file, text };
}

interface Candidate {
  file: string;
  /** What it is: `party "chat"`, `built into dist/index.js`, or nothing known. */
  note?: string;
  handlers: string[];
}

/** The config's other parties, and (for a built `main`) the files it is built from, that have handlers. */
async function candidateParties(loaded: LoadedConfig, main: { file: string; text: string }, built: boolean, read: ReadFile): Promise<Candidate[]> {
  // What main is built from comes first: it is most likely the party meant.
  const files = new Map<string, string | undefined>();
  for (const source of built ? await sourcesOf(main.file, main.text, read) : []) files.set(source, `built into ${main.file}`);
  for (const [party, entry] of Object.entries(loaded.config.parties)) files.set(configFilePath(entry), `party "${party}"`);
  for (const file of built ? USUAL_FILES : []) if (!files.has(file)) files.set(file, undefined);
  files.delete(main.file);
  const candidates: Candidate[] = [];
  for (const [file, note] of files) {
    if (!insideRoot(file) || file.split("/").includes("node_modules") || buildOutputReason(file, "")) continue;
    // A file that cannot be read (missing, a folder, not UTF-8) is simply not a candidate.
    const text = await read(file).catch(() => null);
    if (text === null || isGeneratedFile(text)) continue;
    const handlers = socketHandlers(file, text);
    if (handlers.kind === "found") candidates.push({ file, note, handlers: handlers.handlers });
  }
  return candidates;
}

import { PartyShardError } from "../../errors.js";
import { parseJson5 } from "../config/parse-json5.js";
import { checkRequest, parseSetupLine, type SetupParties, type SetupRequest } from "./setup-request.js";

/** The file verify reads from the project root when there is one: what an app needs to be probed, kept with the app. */
export const VERIFY_CONFIG_NAME = "party-shard.verify.json";

export const COUNT_MODES = ["auto", "token", "any"] as const;
export type CountMode = (typeof COUNT_MODES)[number];

/** What the file may say; flags given on the command line win over it. */
export interface VerifyConfig {
  setup?: SetupRequest[];
  payload?: string;
  count?: CountMode;
}

const KEYS = ["$comment", "setup", "payload", "count"];

/**
 * Reads a verify config: `{ "setup": ["POST /parties/main/{room} {…}", { "method": "POST",
 * "path": "/parties/main/{room}", "body": {…} }], "payload": "…{id}…", "count": "any" }`.
 * Anything unknown or ill-typed is bad input at its key, so a typo is never silently ignored.
 */
export function parseVerifyConfig(text: string, file: string, parties: SetupParties): VerifyConfig {
  // JSON5 like partykit.json5: comments may say why a setup request is there.
  const data = parseJson5(text, file, file);
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw bad(file, "the file must hold one JSON object");
  const record = data as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !KEYS.includes(key));
  if (unknown !== undefined) throw bad(file, `unknown key "${unknown}" (it takes ${KEYS.slice(1).join(", ")})`);
  const config: VerifyConfig = {};
  if (record.setup !== undefined) {
    if (!Array.isArray(record.setup)) throw bad(file, `"setup" must be an array of requests`);
    config.setup = record.setup.map((entry, i) => setupEntry(entry, `setup[${i}]`, file, parties));
  }
  if (record.payload !== undefined) {
    if (typeof record.payload !== "string") throw bad(file, `"payload" must be a string with {id} in it`);
    config.payload = record.payload;
  }
  if (record.count !== undefined) {
    if (!COUNT_MODES.includes(record.count as CountMode)) throw bad(file, `"count" must be ${COUNT_MODES.join(", ")}; got ${JSON.stringify(record.count)}`);
    config.count = record.count as CountMode;
  }
  return config;
}

function setupEntry(entry: unknown, source: string, file: string, parties: SetupParties): SetupRequest {
  if (typeof entry === "string") return parseSetupLine(entry, source, parties, { file });
  if (typeof entry !== "object" || entry === null) throw bad(file, `${source} must be a string "METHOD /parties/<party>/{room} [body]" or an object { method, path, body, headers }`);
  const { method, path, body, headers, ...rest } = entry as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw bad(file, `${source} has an unknown key "${extra}" (it takes method, path, body, headers)`);
  if (typeof method !== "string" || typeof path !== "string") throw bad(file, `${source} needs "method" and "path" strings`);
  // A body given as JSON is sent as JSON; a string as it is.
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  if (headers !== undefined && (typeof headers !== "object" || headers === null || Object.values(headers).some((value) => typeof value !== "string"))) {
    throw bad(file, `${source} "headers" must be an object of strings`);
  }
  return checkRequest({ method, path, body: text, headers: (headers ?? {}) as Record<string, string> }, source, parties, { file });
}

function bad(file: string, why: string): PartyShardError {
  return new PartyShardError(`${why}.`, { location: { file }, hint: `See \`party-shard verify --help\` for the file's shape.` });
}

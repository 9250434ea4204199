import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { PartyShardError } from "../errors.js";
import { parseSetupLine, type SetupParties, type SetupRequest } from "../core/verify/setup-request.js";
import { parseVerifyConfig, VERIFY_CONFIG_NAME, type CountMode, type VerifyConfig } from "../core/verify/verify-config.js";
import { PAYLOAD_ID, fillPayload } from "../infra/probe-payload.js";
import type { OptionsOf } from "./flags.js";

const MAX_PAYLOAD_BYTES = 64 * 1024;

/** The flags verify reads itself, checked before the project is read (each --setup is checked against its parties once it is). */
export type VerifyFlags = OptionsOf<readonly ["clients", "messages", "payload", "router", "setup", "setupHeader", "count", "verifyConfig", "compare"]>;

/** The flags with the verify config file under them, every setup request checked against the project. */
export interface VerifyOptions extends Omit<VerifyFlags, "setup" | "setupHeader" | "count" | "verifyConfig"> {
  setup: SetupRequest[];
  count: CountMode;
  /** The config file read, relative to the project root; undefined when there was none. */
  configFile?: string;
}

export function resolveVerifyOptions(flags: VerifyFlags, cwd: string, root: string, parties: SetupParties): VerifyOptions {
  const { config, file } = readVerifyConfig(flags.verifyConfig, cwd, root, parties);
  const given = flags.setup.length > 0 ? flags.setup.map((line, i) => parseSetupLine(line, `--setup #${i + 1}`, parties)) : (config.setup ?? []);
  const setup = given.map((request) => ({ ...request, headers: { ...request.headers, ...Object.fromEntries(flags.setupHeader) } }));
  const count = flags.count ?? config.count ?? "auto";
  const template = flags.payload ?? config.payload;
  const payload = template === undefined ? undefined : parsePayload(template, flags.payload !== undefined ? "--payload" : `"payload" in ${file}`, count);
  const { clients, messages, router, compare } = flags;
  return { clients, messages, router, compare, setup, payload, count, ...(file ? { configFile: file } : {}) };
}

/** `--verify-config FILE` (which must exist), else party-shard.verify.json in the project root when there is one. */
function readVerifyConfig(explicit: string | undefined, cwd: string, root: string, parties: SetupParties): { config: VerifyConfig; file?: string } {
  const full = explicit === undefined ? path.join(root, VERIFY_CONFIG_NAME) : path.resolve(cwd, explicit);
  if (explicit === undefined && !existsSync(full)) return { config: {} };
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (error) {
    throw new PartyShardError(`--verify-config ${explicit}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
  }
  const file = path.relative(root, full) || full;
  return { config: parseVerifyConfig(text, file, parties), file };
}

/**
 * A payload needs {id} only where a token alone counts (`--count token`); otherwise it can be the
 * app's own message verbatim (a vote has no field for a token), and any frame after it counts.
 */
export function parsePayload(template: string, source: string, count: CountMode): string {
  if (count === "token" && !template.includes(PAYLOAD_ID)) {
    throw new PartyShardError(`${source} must contain {id}, where each message's token goes; got ${JSON.stringify(template.slice(0, 80))}.`, {
      hint: `verify finds a message in what clients receive by its token. Example: --payload '{"type":"chat","text":"{id}"}'; or leave out --count token: any frame after a write then counts.`,
    });
  }
  if (Buffer.byteLength(template) > MAX_PAYLOAD_BYTES) throw new PartyShardError(`${source} is over ${MAX_PAYLOAD_BYTES / 1024} KB.`);
  if (/^\s*[[{]/.test(template)) {
    try {
      JSON.parse(fillPayload(template, "party-shard-probe:0:0"));
    } catch (error) {
      throw new PartyShardError(`${source} looks like JSON but is not: ${(error as Error).message}.`, {
        hint: "Quote it for your shell, e.g. --payload '{\"type\":\"chat\",\"text\":\"{id}\"}' ({id} goes inside a string).",
      });
    }
  }
  return template;
}

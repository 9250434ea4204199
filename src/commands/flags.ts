import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { Option, type Command } from "commander";
import { PartyShardError } from "../errors.js";
import { DEFAULT_SHARD_TARGET, DEFAULT_SHARDS, MAX_SHARD_TARGET } from "../core/shard-count.js";
import type { WritesMode } from "../core/migrate/migrate-options.js";
import { VENDOR_DIR } from "../core/package-info.js";
import { PLATFORMS, type Platform } from "../core/platform.js";
import { parseSetupHeader } from "../core/verify/setup-request.js";
import type { CountMode } from "../core/verify/verify-config.js";
import { DEFAULT_PAYLOAD } from "../infra/probe-payload.js";
import { PLAN_BOUNDS } from "../core/capacity/bounds.js";

// Imported by every command at start-up: nothing here may load ts-morph, so --help and flag errors stay fast.

export const MAX_SHARDS = 256;

interface Flag<Value> {
  /** The commander options, `description` replacing the first one's where a command says it its own way. */
  options: (description?: string) => Option[];
  /** Turns what commander parsed into the typed value, or throws a bad-input error naming the flag. */
  parse: (value: unknown, parsed: { cwd: string }) => Value;
}

const flag = <Value>(options: (description?: string) => Option[], parse: (value: unknown, parsed: { cwd: string }) => Value): Flag<Value> => ({ options, parse });
const boolean = (flags: string, description: string) => flag((own) => [new Option(flags, own ?? description)], (value) => value === true);
const text = (flags: string, description: string) => flag((own) => [new Option(flags, own ?? description)], (value) => (typeof value === "string" ? value : undefined));
const collect = (value: string, previous: string[]) => [...previous, value];
const WRITES_MODES: readonly WritesMode[] = ["routed", "socket"];

/**
 * Every flag of every command, declared once: its options for commander and how its value is
 * checked. Values are checked in this order, whichever command takes them, so a run with two bad
 * flags names the same one first on every command: --cwd first, since other flags resolve from it.
 * The key is commander's name for the value (`--dry-run` is `dryRun`, `--no-color` is `color`).
 */
export const FLAGS = {
  cwd: flag((own) => [new Option("--cwd <dir>", own ?? "run as if started in this folder")], (value) => parseCwd(value)),
  config: text("--config <file>", "PartyKit or wrangler config to use (default: found like partykit and wrangler do)"),
  platform: flag((own) => [new Option("--platform <platform>", own ?? `${PLATFORMS.join(" or ")} (default: told by the config found)`)], parsePlatform),
  shards: flag(
    (own) => [new Option("--shards <n>", own ?? `number of shards, 1-${MAX_SHARDS} (default: the router's current count, else ${DEFAULT_SHARDS})`)],
    (value) => (value === undefined ? undefined : parseIntegerOption("--shards", value, 1, MAX_SHARDS)),
  ),
  shardTarget: flag(
    (own) => [new Option("--shard-target <n>", own ?? `clients a shard takes before a room opens its next, 1-${MAX_SHARD_TARGET} (default: the router's current target, else ${DEFAULT_SHARD_TARGET}; \`party-shard plan\` works one out)`)],
    (value) => (value === undefined ? undefined : parseIntegerOption("--shard-target", value, 1, MAX_SHARD_TARGET)),
  ),
  writes: flag(
    (own) => [new Option("--writes <mode>", own ?? "how routed sockets write: routed (sendViaRouter, a POST through the router) or socket (socket.send, relayed by its shard)").default("routed")],
    parseWrites,
  ),
  client: flag(
    (own) => [new Option("--client <dir>", own ?? "look for client code in this folder only (repeatable)").argParser(collect).default([], "the whole repository around the config")],
    (value, { cwd }) => clientFolders(value, cwd),
  ),
  clients: flag((own) => [new Option("--clients <n>", own ?? "clients to connect through the router").default("20")], (value) => parseIntegerOption("--clients", value, 1, 1_000)),
  messages: flag((own) => [new Option("--messages <n>", own ?? "messages to publish through the router").default("100")], (value) => parseIntegerOption("--messages", value, 1, 100_000)),
  setupHeader: flag(
    (own) => [new Option("--setup-header <header>", own ?? "'name: value' sent with every setup request (an app's auth); repeat for several").argParser(collect).default([])],
    (value) => (Array.isArray(value) ? value.map(String) : []).map((header, i): [string, string] => parseSetupHeader(header, `--setup-header #${i + 1}`)),
  ),
  party: text(
    "--party <name|file>",
    "party to shard, by name or file (default: main, if it is a source with WebSocket handlers; PartyServer: a binding, its URL name or its class's file, default: the one class with socket handlers)",
  ),
  name: text("--name <name>", "router party name (default: router, or <party>-router)"),
  out: flag((own) => [new Option("--out <path>", own ?? "router file (default: next to main)")], (value, { cwd }) => (typeof value === "string" ? path.resolve(cwd, value) : undefined)),
  dryRun: boolean("--dry-run", "print the diff and write nothing"),
  yes: boolean("-y, --yes", "never prompt; take the defaults"),
  json: boolean("--json", "print the plan and findings, or the error, as JSON on stdout"),
  force: boolean("--force", "replace files that party-shard generated and you edited since"),
  verbose: boolean("--verbose", "show generated files in full, not as one line each"),
  vendor: flag(
    (own) => [
      new Option("--vendor", own ?? `copy the runtime's modules into the project (${VENDOR_DIR}/ beside the generated files) instead of importing the party-shard package`),
      new Option("--no-vendor", "import the runtime from the party-shard package (the default)"),
    ],
    // Unset: the generated files keep importing the runtime as they do.
    (value) => (typeof value === "boolean" ? value : undefined),
  ),
  format: flag((own) => [new Option("--format <format>", own ?? "output format").choices(["text", "github"]).default("text")], (value) => (value === "github" ? "github" : "text")),
  strict: boolean("--strict", "also fail when the router differs from what this version generates, or cannot carry the room party-shard.plan.json plans"),
  payload: text("--payload <template>", `each message, with {id} where its token goes (default: ${DEFAULT_PAYLOAD})`),
  setup: flag(
    (own) => [new Option("--setup <request>", own ?? "a request sent before clients connect, 'METHOD /parties/<party>/{room} [body]' ({room}: the probe's room); repeat for several").argParser(collect).default([])],
    (value) => (Array.isArray(value) ? value.map(String) : []),
  ),
  count: flag(
    (own) => [new Option("--count <what>", own ?? "what counts as a client's receipt of a write: token (a frame with its token), any (any frame after it), auto (token, or any when no frame carries one)").choices(["auto", "token", "any"])],
    (value) => value as CountMode | undefined,
  ),
  verifyConfig: text("--verify-config <file>", "setup, payload and count from this file (default: party-shard.verify.json in the project root, if there is one)"),
  compare: flag((own) => [new Option("--no-compare", own ?? "skip the same run straight to the room (unsharded)")], (value) => value !== false),
  router: text("--router <name>", "router party to verify (default: the one party-shard init generated)"),
  // plan's: the room it plans for (src/core/capacity/room-plan.ts).
  connections: flag((own) => [new Option("--connections <n>", own ?? "clients connected to the room at once")], (value) => (value === undefined ? undefined : parseIntegerOption("--connections", value, 1, PLAN_BOUNDS.connections))),
  messagesPerSecond: flag(
    (own) => [new Option("--messages-per-second <n>", own ?? "messages each client sends a second (0.1: one every 10 s)")],
    (value) => (value === undefined ? undefined : parseRate("--messages-per-second", value, PLAN_BOUNDS.messagesPerClientPerSecond)),
  ),
  roomMessagesPerSecond: flag(
    (own) => [new Option("--room-messages-per-second <n>", own ?? "or: messages the whole room sends a second")],
    (value) => (value === undefined ? undefined : parseRate("--room-messages-per-second", value, 1e9)),
  ),
  fanout: flag((own) => [new Option("--fanout <who>", own ?? "who gets each message: everyone, sender, or a number of clients (default: everyone)")], (value) => (value === undefined ? undefined : parseFanout(value))),
  messageBytes: flag((own) => [new Option("--message-bytes <n>", own ?? "bytes a message (default: 200)")], (value) => (value === undefined ? undefined : parseIntegerOption("--message-bytes", value, 1, PLAN_BOUNDS.messageBytes))),
  save: boolean("--save", "keep the plan in party-shard.plan.json: plan's defaults next time, and what check measures the router against"),
  // On every command, so each one's --help lists it; NO_COLOR=1 and FORCE_COLOR=0 do the same. cli.ts reads it before parsing, to colour an error.
  color: flag((own) => [new Option("--no-color", own ?? "plain text, no colour (default: colour only on a terminal)")], (value) => value !== false),
} satisfies Record<string, Flag<unknown>>;

export type FlagKey = keyof typeof FLAGS;
/** A flag a command takes: by key, or with the command's own description. */
export type FlagUse = FlagKey | readonly [FlagKey, string];
type KeyOf<Use> = Use extends readonly [infer Key, string] ? Key : Use;
type ValueOf<Key extends FlagKey> = ReturnType<(typeof FLAGS)[Key]["parse"]>;

/** The typed, checked options of a command that takes `Uses`. */
export type OptionsOf<Uses extends readonly FlagUse[]> = { [Key in KeyOf<Uses[number]> & FlagKey]: ValueOf<Key> };

/** Where a project is: every command takes these. */
export const PROJECT_FLAGS = ["cwd", "config", "platform"] as const satisfies readonly FlagUse[];
/** init's and migrate's: the project, then how the plan is shown and written. */
export const WRITING_FLAGS = [...PROJECT_FLAGS, "dryRun", "yes", "json", "force", "verbose", "vendor", "color"] as const satisfies readonly FlagUse[];
/** What the flags a writing command takes give `settlePlan`. */
export type WritingOptions = OptionsOf<typeof WRITING_FLAGS>;

const keyOf = (use: FlagUse): FlagKey => (typeof use === "string" ? use : use[0]);

/** Adds the flags' options to the command, in the order given: the order its --help lists them. */
export function withFlags(command: Command, uses: readonly FlagUse[]): Command {
  for (const use of uses) {
    for (const option of FLAGS[keyOf(use)].options(typeof use === "string" ? undefined : use[1])) command.addOption(option);
  }
  return command;
}

/** Checks what commander parsed, once, before anything is loaded or read, so a typo fails fast (exit 2). */
export function parseFlags<const Uses extends readonly FlagUse[]>(uses: Uses, raw: Record<string, unknown>): OptionsOf<Uses> {
  const taken = new Set(uses.map(keyOf));
  const parsed: Record<string, unknown> = {};
  for (const [key, { parse }] of Object.entries(FLAGS)) {
    if (taken.has(key as FlagKey)) parsed[key] = parse(raw[key], { cwd: parsed.cwd as string });
  }
  return parsed as OptionsOf<Uses>;
}

function parseCwd(value: unknown): string {
  const cwd = path.resolve(String(value ?? process.cwd()));
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) throw new PartyShardError(`--cwd ${cwd} is not a folder.`);
  return cwd;
}

function parsePlatform(value: unknown): Platform | undefined {
  if (value === undefined) return undefined;
  if (PLATFORMS.includes(value as Platform)) return value as Platform;
  throw new PartyShardError(`--platform must be ${PLATFORMS.join(" or ")}; got "${String(value)}".`);
}

function parseWrites(value: unknown): WritesMode {
  const writes = WRITES_MODES.find((known) => known === value);
  if (!writes) throw new PartyShardError(`--writes must be one of ${WRITES_MODES.join(", ")}; got "${String(value)}".`);
  return writes;
}

/** The `--client` folders, resolved from --cwd: each must be a folder, or nothing is read. */
function clientFolders(value: unknown, cwd: string): string[] {
  return (Array.isArray(value) ? value.map(String) : []).map((dir) => {
    const resolved = path.resolve(cwd, dir);
    if (!statSync(resolved, { throwIfNoEntry: false })?.isDirectory()) {
      throw new PartyShardError(`--client ${dir} is not a folder (${resolved}).`, { hint: "Pass the folder that holds client code, e.g. --client web or --client apps/web/src." });
    }
    return resolved;
  });
}

/** Parses a whole number flag within [min, max], or throws a bad-input error naming the flag. */
/** A rate: a number ≥ 0 (decimals allowed), at most `max`. */
function parseRate(flag: string, value: unknown, max: number): number {
  const text = String(value);
  const number = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || number > max) throw new PartyShardError(`${flag} must be a number from 0 to ${max.toLocaleString("en-US")}; got "${text}".`);
  return number;
}

function parseFanout(value: unknown): "everyone" | "sender" | number {
  const text = String(value);
  if (text === "everyone" || text === "sender") return text;
  if (/^\d+$/.test(text) && Number(text) >= 1) return Number(text);
  throw new PartyShardError(`--fanout must be everyone, sender or a number of clients; got "${text}".`);
}

export function parseIntegerOption(flag: string, value: unknown, min: number, max: number): number {
  const text = String(value);
  const number = Number(text);
  if (!/^\d+$/.test(text) || number < min || number > max) {
    throw new PartyShardError(`${flag} must be a whole number from ${min} to ${max}; got "${text}".`);
  }
  return number;
}

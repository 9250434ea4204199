/**
 * The plan a project keeps (`party-shard plan --save`): the room it expects, in
 * `party-shard.plan.json` beside where the commands run. `plan` takes it as its defaults, and
 * `check` warns when the router cannot carry it.
 */
import { PartyShardError } from "../../errors.js";
import type { Finding } from "../plan.js";
import { PLAN_BOUNDS } from "./bounds.js";
import { planRoom, subrequestWarning, type PlanInput, type WritesVia } from "./room-plan.js";

export const PLAN_FILE = "party-shard.plan.json";
/** A saved plan is a few fields: anything bigger is not one. */
export const MAX_PLAN_BYTES = 4_096;

/** The saved plan's text, as `plan --save` writes it. */
export function renderSavedPlan(input: PlanInput): string {
  return `${JSON.stringify(input, null, 2)}\n`;
}

/** The plan in `text` (the file's contents), checked field by field; bad input says which field and why. */
export function parseSavedPlan(text: string): PlanInput {
  const fail = (why: string) => new PartyShardError(`the saved plan ${why}.`, { location: { file: PLAN_FILE }, hint: "Write it again with npx party-shard plan --save, or delete it." });
  if (Buffer.byteLength(text) > MAX_PLAN_BYTES) throw fail(`is larger than ${MAX_PLAN_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw fail(`is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail("is not an object");
  const fields = value as Record<string, unknown>;
  const count = (name: string, min: number, max: number, whole: boolean): number => {
    const field = fields[name];
    if (typeof field !== "number" || !Number.isFinite(field) || field < min || field > max || (whole && !Number.isInteger(field))) {
      throw fail(`has "${name}": ${JSON.stringify(field) ?? "missing"}; it must be a ${whole ? "whole " : ""}number from ${min} to ${max}`);
    }
    return field;
  };
  const connections = count("connections", 1, PLAN_BOUNDS.connections, true);
  const messagesPerClientPerSecond = count("messagesPerClientPerSecond", 0, PLAN_BOUNDS.messagesPerClientPerSecond, false);
  const fanout = fields.fanout;
  if (fanout !== "everyone" && fanout !== "sender" && !(typeof fanout === "number" && Number.isInteger(fanout) && fanout >= 1)) {
    throw fail(`has "fanout": ${JSON.stringify(fanout) ?? "missing"}; it must be "everyone", "sender" or a whole number of clients`);
  }
  const messageBytes = count("messageBytes", 1, PLAN_BOUNDS.messageBytes, true);
  const writes = fields.writes;
  if (writes !== "routed" && writes !== "socket") throw fail(`has "writes": ${JSON.stringify(writes) ?? "missing"}; it must be "routed" or "socket"`);
  return { connections, messagesPerClientPerSecond, fanout, messageBytes, writes };
}

/**
 * check's warnings about capacity, for a router of `shards` shards whose clients write `writes`:
 * the Free plan's subrequests, and a saved plan it cannot carry.
 */
export function capacityFindings(shards: number, writes: WritesVia, saved: PlanInput | undefined): Finding[] {
  const findings: Finding[] = [];
  const subrequests = subrequestWarning(shards, writes);
  if (subrequests) findings.push({ level: "warning", code: "free-plan-subrequests", message: subrequests });
  if (!saved) return findings;
  const plan = planRoom(saved);
  const { binding } = plan.sharded;
  if (!plan.sharded.fits) {
    findings.push({ level: "warning", code: "plan-not-carried", message: `no shard count carries the room in ${PLAN_FILE}: ${limitSentence(binding)} (npx party-shard plan says more)`, location: { file: PLAN_FILE } });
  } else if (shards < plan.sharded.shards) {
    findings.push({
      level: "warning",
      code: "plan-needs-more-shards",
      message: `the router has at most ${shards} shards; the room in ${PLAN_FILE} needs ${plan.sharded.shards} (${binding.limit} binds first): npx party-shard init --shards ${plan.sharded.shards} --shard-target ${plan.sharded.target}`,
      location: { file: PLAN_FILE },
    });
  }
  return findings;
}

/** "events at the leader: 285,000 a second against 500". */
export function limitSentence(check: { limit: string; load: number; max: number }): string {
  const unit = check.limit === "sockets" ? "" : " a second";
  return `${check.limit} ${check.limit === "leader events" ? "" : "per object "}${whole(check.load)}${unit} against ${whole(check.max)}`;
}

export const whole = (n: number) => (Number.isFinite(n) ? Math.ceil(n).toLocaleString("en-US") : "∞");

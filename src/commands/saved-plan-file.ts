import fs from "node:fs";
import path from "node:path";
import { PLAN_FILE, MAX_PLAN_BYTES, parseSavedPlan } from "../core/capacity/saved-plan.js";
import type { PlanInput } from "../core/capacity/room-plan.js";
import { PartyShardError } from "../errors.js";

/** party-shard.plan.json in `dir`: its text and the plan in it, or nulls when there is none. Bad input (not a file, too big, not a plan) is exit 2. */
export function readSavedPlan(dir: string): { text: string | null; plan: PlanInput | undefined } {
  const file = path.join(dir, PLAN_FILE);
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat) return { text: null, plan: undefined };
  // Sized before it is read: a big file is not a plan, whatever it holds.
  if (!stat.isFile() || stat.size > MAX_PLAN_BYTES) {
    throw new PartyShardError(`the saved plan is ${stat.isFile() ? `larger than ${MAX_PLAN_BYTES} bytes` : "not a file"}.`, { location: { file: PLAN_FILE }, hint: "Write it again with npx party-shard plan --save, or delete it." });
  }
  const text = fs.readFileSync(file, "utf8");
  return { text, plan: parseSavedPlan(text) };
}

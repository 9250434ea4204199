import { DEFAULT_SHARDS } from "../core/shard-count.js";
import type { InitPlan } from "../core/plan.js";
import type { Platform } from "../core/platform.js";
import type { Prompts } from "../ui/prompts.js";
import { MAX_SHARDS } from "./flags.js";
import { initNext } from "./next-step.js";
import type { RunFacts } from "./settle-plan.js";
import { setupFacts } from "./summary.js";

// Imported by init.ts at start-up: nothing here may load ts-morph, so --help and flag errors stay fast.

/** The shard count question, saying where its default comes from so enter is an informed choice. */
export function askShards(prompts: Prompts, current: number | undefined): Promise<number> {
  const initial = current ?? DEFAULT_SHARDS;
  const why = current === undefined ? "party-shard's starting count" : "the router's current count, so enter changes nothing";
  return prompts.number(
    `How many shards (1-${MAX_SHARDS})? Each holds a share of the room's sockets and sends them its broadcasts. Default ${initial}: ${why}.`,
    initial,
    (n) => (n >= 1 && n <= MAX_SHARDS ? undefined : `Between 1 and ${MAX_SHARDS}`),
  );
}

/** What init tells about its run: the party it set up, and the step after it. */
export function initFacts(platform: Platform, plan: InitPlan): RunFacts {
  return { platform, ...setupFacts(plan.setup), next: (left) => initNext(left, plan.migrated) };
}

import { ADDED_LATENCY_MS, DELIVERIES_PER_SECOND, LIMITS, MEASURED, MEASURED_RUN } from "../core/capacity/measured.js";
import type { MonthlyCost } from "../core/capacity/cost-model.js";
import { limitSentence, whole } from "../core/capacity/saved-plan.js";
import type { LimitCheck, RoomPlan } from "../core/capacity/room-plan.js";

const rate = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 2 });
const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const millions = (n: number) => (n >= 1e6 ? `${(n / 1e6).toLocaleString("en-US", { maximumFractionDigits: 1 })} M` : whole(n));

/** The command that sets the router up for the plan; undefined when no shard count carries the room. */
export function initCommandFor(plan: RoomPlan): string | undefined {
  return plan.sharded.fits ? `npx party-shard init --shards ${plan.sharded.shards} --shard-target ${plan.sharded.target}` : undefined;
}

/** What plan prints on a terminal: the room, each limit one room and sharded, the verdict, the month. */
export function planText(plan: RoomPlan, savedTo?: string): string {
  const { input, sharded, unsharded } = plan;
  const fanout = input.fanout === "everyone" ? "everyone" : input.fanout === "sender" ? "its sender" : `${input.fanout} clients`;
  const lines = [
    `party-shard plan: ${whole(input.connections)} connections, ${rate(input.messagesPerClientPerSecond)} messages a second each (${rate(plan.roomMessagesPerSecond)} in the room), each to ${fanout}, ${whole(input.messageBytes)} bytes; ${input.writes} writes`,
    "",
    row("", "one room", `sharded: ${sharded.shards} shards of ${whole(sharded.target)}`),
    ...(["sockets", "events", "deliveries", "leader events"] as const).map((limit) => {
      const one = unsharded.checks.find((check) => check.limit === limit);
      const many = sharded.checks.find((check) => check.limit === limit)!;
      return row(`${limit}${limit === "sockets" ? "" : " a second"}`, one ? cell(one) : "—", cell(many));
    }),
    "",
  ];
  if (sharded.fits) {
    lines.push(`Shards: ${sharded.shards}, at ${whole(sharded.target)} clients a shard; ${sharded.binding.limit} bind${sharded.binding.limit.endsWith("s") ? "" : "s"} first (${whole(sharded.binding.shardsNeeded)} shards keep ${limitSentence(sharded.binding).replace(/ against /, " under ")}).`);
    lines.push(`Set the router up for it: ${initCommandFor(plan)} (more --shards only raise the most; shards out of use cost nothing).`);
  } else {
    lines.push(`No number of shards carries this room: ${limitSentence(sharded.binding)}.`);
    if (sharded.binding.limit === "leader events") {
      const most = LIMITS.eventsPerSecond / (MEASURED[input.writes].leaderEventsPerWrite ?? 1);
      lines.push(`The party runs in one object, the leader, which sees every message: it takes at most ~${whole(most)} messages a second with ${input.writes} writes. Split the room (by area, channel or match) or send less.`);
    }
  }
  lines.push(unsharded.fits ? "One room carries it too: sharding buys headroom, not capacity it lacks." : `One room does not carry it: ${limitSentence(worst(unsharded.checks))}.`);
  lines.push(`Latency: about +${ADDED_LATENCY_MS.p50} ms a message (${ADDED_LATENCY_MS.source}).`);
  for (const warning of plan.warnings) lines.push(`warning: ${warning}`);
  lines.push("", "A month (30 days, each client connecting once a day; docs/cost.md has the formula):", month("one room", plan.cost.unsharded), month(`${sharded.shards} shards`, plan.cost.sharded));
  lines.push(`  = requests × $0.15/M + GB-s × $12.50/M + rows written × $1.00/M; counts from ${MEASURED_RUN}; deliveries from the same run (${whole(DELIVERIES_PER_SECOND)} a second one object).`);
  if (savedTo) lines.push(`Saved to ${savedTo}: plan's defaults from now on, and check warns when the router cannot carry it.`);
  return lines.join("\n");
}

/** `plan --json`: the input, every check, the verdict and the month, for scripts. */
export function planJson(plan: RoomPlan) {
  return {
    input: plan.input,
    roomMessagesPerSecond: plan.roomMessagesPerSecond,
    receivedPerClientPerSecond: plan.receivedPerClientPerSecond,
    unsharded: plan.unsharded,
    sharded: { ...plan.sharded, checks: plan.sharded.checks.map(finite), binding: finite(plan.sharded.binding) },
    init: initCommandFor(plan) ?? null,
    addedLatencyMs: plan.addedLatencyMs,
    cost: plan.cost,
    warnings: plan.warnings,
    measured: MEASURED_RUN,
  };
}

/** JSON has no Infinity: a limit no shard count meets needs null shards. */
const finite = (check: LimitCheck) => ({ ...check, shardsNeeded: Number.isFinite(check.shardsNeeded) ? check.shardsNeeded : null });
const worst = (checks: LimitCheck[]) => checks.reduce((a, b) => (b.load / b.max > a.load / a.max ? b : a));
const cell = (check: LimitCheck) => `${whole(check.load)} of ${whole(check.max)}${check.load > check.max ? "  ✗" : ""}`;
const row = (label: string, one: string, many: string) => `  ${label.padEnd(24)}${one.padEnd(30)} ${many}`;
const month = (label: string, cost: MonthlyCost) =>
  `  ${label.padEnd(12)}${usd(cost.usd.total).padStart(14)}   (${millions(cost.requests)} requests, ${millions(cost.gbSeconds)} GB-s, ${millions(cost.rowsWritten)} rows written)`;

import { Command } from "commander";
import { PartyShardError, type ExitCode } from "../errors.js";
import { PLAN_BOUNDS } from "../core/capacity/bounds.js";
import { PLAN_FILE, renderSavedPlan } from "../core/capacity/saved-plan.js";
import { planRoom, type PlanInput } from "../core/capacity/room-plan.js";
import type { ActionRunner, CommandContext } from "./context.js";
import { withFlags, type OptionsOf } from "./flags.js";
import { planJson, planText } from "./plan-report.js";
import { readSavedPlan } from "./saved-plan-file.js";
import { exitCodesHelp } from "./shared.js";

const PLAN_FLAGS = [
  "cwd",
  "connections",
  "messagesPerSecond",
  "roomMessagesPerSecond",
  "fanout",
  "messageBytes",
  ["writes", "how clients write, as migrate --writes made them: routed (sendViaRouter, a POST through the router) or socket (socket.send, relayed by its shard)"],
  "save",
  ["json", "print the plan as JSON on stdout"],
  "color",
] as const;

export function planCommand(run: ActionRunner): Command {
  return withFlags(new Command("plan").description("work out the shards a room needs, the limit that binds first and what a month costs, sharded and not (never reads the code)"), PLAN_FLAGS)
    .addHelpText(
      "after",
      `\nExamples:\n  $ party-shard plan --connections 2000 --messages-per-second 0.1\n  $ party-shard plan --connections 50000 --messages-per-second 10 --fanout everyone --json\n  $ party-shard plan --connections 20000 --room-messages-per-second 200 --writes socket --save\n\nWithout flags, the plan saved in ${PLAN_FILE} (by --save) is the default.\n${exitCodesHelp([
        [0, "the plan is printed (also when no shard count carries the room: it says why)"],
        [2, "bad input (flags, an unreadable plan file)"],
      ])}`,
    )
    .action(run(PLAN_FLAGS, plan));
}

export async function plan(context: CommandContext<OptionsOf<typeof PLAN_FLAGS>>): Promise<ExitCode> {
  const { options } = context;
  const { text: before, plan: saved } = readSavedPlan(options.cwd);
  const input = planInput(options, saved);
  const result = planRoom(input);
  if (options.save) {
    const { applyPlan } = await import("../infra/apply-plan.js");
    await applyPlan({ root: options.cwd, changes: [{ path: PLAN_FILE, before, after: renderSavedPlan(input) }], findings: [] });
  }
  context.stdout(options.json ? JSON.stringify(planJson(result), null, 2) : planText(result, options.save ? PLAN_FILE : undefined));
  return 0;
}

/** The flags over the saved plan over the defaults (--writes: migrate's); the room's size and rate have none. */
function planInput(options: OptionsOf<typeof PLAN_FLAGS>, saved: PlanInput | undefined): PlanInput {
  const connections = options.connections ?? saved?.connections;
  const hint = `Say the room's size and rate: npx party-shard plan --connections 2000 --messages-per-second 0.1 (add --save to keep them in ${PLAN_FILE}).`;
  if (connections === undefined) throw new PartyShardError(`plan needs --connections: no ${PLAN_FILE} here gives it.`, { hint });
  if (options.messagesPerSecond !== undefined && options.roomMessagesPerSecond !== undefined) {
    throw new PartyShardError("--messages-per-second (each client's) and --room-messages-per-second (the room's) say the same thing: give one.");
  }
  const perClient = options.messagesPerSecond ?? (options.roomMessagesPerSecond !== undefined ? options.roomMessagesPerSecond / connections : saved?.messagesPerClientPerSecond);
  if (perClient === undefined) throw new PartyShardError(`plan needs --messages-per-second or --room-messages-per-second: no ${PLAN_FILE} here gives it.`, { hint });
  if (perClient > PLAN_BOUNDS.messagesPerClientPerSecond) throw new PartyShardError(`--room-messages-per-second gives each client ${perClient} messages a second; at most ${PLAN_BOUNDS.messagesPerClientPerSecond}.`);
  return {
    connections,
    messagesPerClientPerSecond: perClient,
    fanout: options.fanout ?? saved?.fanout ?? "everyone",
    messageBytes: options.messageBytes ?? saved?.messageBytes ?? 200,
    // Not from the file: commander gives --writes its default, as migrate's.
    writes: options.writes,
  };
}

import type { ProbeResult } from "../infra/delivery-probe.js";
import type { SetupOutcome } from "../infra/setup-requests.js";
import type { Colors } from "../ui/colour.js";
import { summarize, type Summary } from "./summary.js";
import type { VerifyOptions } from "./verify-options.js";
import type { VerifyTarget } from "../platforms/adapter.js";

/** One probe run: through the router (sharded) or straight to the party's room. */
export interface VerifyRun {
  sharded: boolean;
  setup: SetupOutcome[];
  /** Missing when a setup request failed and the probe was not run. */
  result?: ProbeResult;
}

export interface VerifyOutcome {
  ok: boolean;
  target: VerifyTarget;
  options: VerifyOptions;
  sharded: VerifyRun;
  unsharded?: VerifyRun;
  partyErrors: string[];
}

/** Up to three distinct error lines the dev server printed (the party's own throws among them). */
export function errorLines(output: string): string[] {
  // wrangler colours its errors even under NO_COLOR.
  const lines = output
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .map((line) => line.trim())
    // wrangler dev offline: the Request.cf fetch fails at every start, harmless and not the party's.
    .filter((line) => /\b(?:\w*Error|error|Uncaught)\b/.test(line) && !line.includes("workers.cloudflare.com"));
  return [...new Set(lines)].slice(0, 3).map((line) => line.slice(0, 200));
}

/** What to change in the probe; --count any only where it was not already what counted. */
function probeHint(result: ProbeResult): string {
  const count = result.counted === "token" ? ", or --count any if it broadcasts its state rather than the message" : "";
  return `Pass --payload shaped like your clients' messages (with {id} in a field the party passes on) or --setup for the state the party needs first (a POST that creates it)${count}`;
}

/** The one step to take next, for the text's last line and the JSON summary. */
export function verifyNext({ ok, sharded, unsharded, partyErrors }: VerifyOutcome): string {
  const failedSetup = sharded.setup.find((outcome) => outcome.status < 200 || outcome.status >= 300);
  if (failedSetup) return `the setup request ${failedSetup.source} answered ${failedSetup.status || "nothing"}: make it succeed on your app (method, path, body; --setup-header for its auth), then run verify again`;
  if (ok) return "deploy the server (router and wrapped party) first, then the client bundle";
  const result = sharded.result!;
  const direct = unsharded?.result;
  if (direct && (direct.deliveryRatio > result.deliveryRatio + 0.01 || direct.duplicates < result.duplicates)) {
    return "sharding loses or repeats what the app delivers unsharded: npx party-shard check lists clients that bypass the router; if it is green, report this output to party-shard";
  }
  const same = direct ? "; the app does the same unsharded, so the probe does not fit it" : "";
  if (partyErrors.length > 0) return `the party threw on the probe's writes (party logged, above)${same}. ${probeHint(result)}`;
  if (result.publishFailures === result.messages) return `every write was refused (answered, above)${same}; npx party-shard check lists what is left to shard`;
  if (result.deliveryRatio === 0) return `no client received anything after a write${same}. ${probeHint(result)}`;
  return direct ? `the app loses these writes unsharded too: the probe's doing, not sharding's. ${probeHint(result)}` : "npx party-shard check lists clients that still bypass the router";
}

export function jsonReport(outcome: VerifyOutcome): Record<string, unknown> & { summary: Summary } {
  const { ok, target, sharded, unsharded, partyErrors } = outcome;
  const next = verifyNext(outcome);
  const facts = { platform: target.platform, ...(target.party ? { party: { name: target.party.name, file: target.party.file } } : {}), ...(target.shards !== undefined ? { shards: target.shards } : {}) };
  return {
    summary: summarize("verify", facts, 0, [], next),
    ok,
    platform: facts.platform,
    router: target.router,
    ...sharded.result,
    partyErrors,
    setup: sharded.setup,
    unsharded: unsharded ? { party: target.party?.url, setup: unsharded.setup, ...unsharded.result } : null,
    hint: next,
  };
}

export function renderReport(outcome: VerifyOutcome, pc: Colors): string {
  const { ok, target, sharded, unsharded, partyErrors } = outcome;
  const runs = [sharded, ...(unsharded ? [unsharded] : [])];
  const header: [string, ...string[]] = ["", `sharded, through "${target.router}"`, ...(unsharded ? [`unsharded, straight to "${target.party!.url}"`] : [])];
  const rows: [string, ...string[]][] = [];
  // Runs that were not measured (a setup request failed) show one line, not a column of dashes.
  const measured = runs.some((run) => run.result);
  const row = (label: string, cell: (run: VerifyRun, result: ProbeResult) => string, when = true) => {
    if (when && measured) rows.push([label, ...runs.map((run) => (run.result ? cell(run, run.result) : "— (not run: a setup request failed)"))]);
  };
  const setupRows = Math.max(...runs.map((run) => run.setup.length));
  for (let i = 0; i < setupRows; i++) {
    rows.push([i === 0 ? "setup" : "", ...runs.map((run) => (run.setup[i] ? setupCell(run.setup[i]!) : ""))]);
  }
  row("delivery", (_, r) => `${r.deliveryRatio.toFixed(3)} (${r.lost} lost of ${r.listeners * r.messages})`);
  const auto = outcome.options.count === "auto";
  row("counted", (_, r) => (r.counted === "token" ? "frames with the write's token" : `any frame after a write${auto ? " (no frame had a token)" : ""}`));
  row("duplicates", (_, r) => (r.counted === "token" ? String(r.duplicates) : "— (not told apart when any frame counts)"));
  row("failed publishes", (_, r) => String(r.publishFailures));
  row("writes answered", (_, r) => Object.entries(r.statuses).map(([status, count]) => `${status} × ${count}`).join(", "), !ok);
  row("frames received", (_, r) => `${r.frames.total} (${r.frames.beforeWrites} before the first write)`, !ok);
  row("stopped early", (_, r) => (r.stoppedEarly ? `after ${r.stoppedEarly.afterWrites} writes (${(r.stoppedEarly.afterMs / 1000).toFixed(1)} s): none reached a client` : "no"), runs.some((run) => run.result?.stoppedEarly));
  row("fan-out latency p50", (_, r) => ms(r.latencyMs.p50));
  row("fan-out latency p99", (_, r) => ms(r.latencyMs.p99));
  row("clients per shard", (run, r) => (!run.sharded ? "— (one room)" : r.shardLoad ? r.shardLoad.map((count, i) => `${i + 1}: ${count}`).join(", ") : "(the router did not answer its load view)"));
  const details: [string, string][] = [
    ...runs.flatMap((run) => run.setup.filter((o) => o.status < 200 || o.status >= 300).map((o): [string, string] => [`  ${o.source} (${run.sharded ? "sharded" : "unsharded"})`, `${o.status || "no answer"}: ${o.body}`])),
    ...(sharded.result?.failureReasons ?? []).map((reason): [string, string] => ["  answered", reason]),
    ...partyErrors.map((line): [string, string] => ["  party logged", line]),
    ...(ok ? [] : runs.flatMap((run) => (run.result?.frames.sample ?? []).map((frame): [string, string] => [`  a frame (${run.sharded ? "sharded" : "unsharded"})`, frame]))),
  ];
  const table = unsharded ? [header, ...rows] : rows;
  const width = Math.max(...[...table, ...details].map(([label]) => label.length));
  const cellWidth = Math.max(...table.map((cells) => (cells[1] ?? "").length));
  const lines = [
    ...table.map(([label, first, second]) => `${label.padEnd(width)}  ${second === undefined ? first : `${first!.padEnd(cellWidth)}  ${second}`}`.trimEnd()),
    ...details.map(([label, value]) => `${label.padEnd(width)}  ${value}`),
  ];
  if (!unsharded) lines.push(`(no unsharded run: ${outcome.options.compare ? `no party that init wrapped behind "${target.router}"` : "--no-compare"})`);
  lines.push(ok ? pc.green(verdictOk(sharded.result!)) : pc.red(verdictFailed(sharded.result)));
  lines.push(`Next: ${verifyNext(outcome)}.`);
  return lines.join("\n");
}

/** What a green run proves: with tokens, each message itself; with any frame, only that something followed each write. */
function verdictOk(result: ProbeResult): string {
  return result.counted === "token" ? "verify: every message reached every client exactly once" : "verify: every client received a frame after every write (any frame counted; its content was not checked)";
}

function verdictFailed(result: ProbeResult | undefined): string {
  if (!result) return "verify: a setup request failed; nothing was measured";
  if (result.stoppedEarly) return `verify: the first ${result.stoppedEarly.afterWrites} writes reached no client; stopped there`;
  return "verify: messages were lost or duplicated";
}

/** `201 POST /parties/router/{room}`: the probe's room id is long and says nothing. */
function setupCell(outcome: SetupOutcome): string {
  const room = outcome.path.split("/")[3] ?? "";
  return `${outcome.status || "no answer"} ${outcome.method} ${outcome.path.replaceAll(room, "{room}")}`;
}

function ms(value: number | null): string {
  return value === null ? "— (no message reached every client)" : `${value.toFixed(1)} ms`;
}

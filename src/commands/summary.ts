import type { Finding, FindingLevel, ShardSetup } from "../core/plan.js";
import type { Platform } from "../core/platform.js";

/** What a command found and what it means, for --json readers who want the answer before the detail. */
export interface Summary {
  command: string;
  platform: Platform;
  party?: { name: string; file: string };
  shards?: number;
  /** Files written, or with --dry-run the files that would be. */
  filesChanged: number;
  /** check only: the items that keep it red. */
  itemsLeft?: number;
  findings: Record<FindingLevel, number>;
  /** The one step to take next, as the text output's "Next:" line says it. */
  next: string;
}

/** What a command knows about the project besides its plan: where the summary's first fields come from. */
export interface ProjectFacts {
  platform: Platform;
  party?: { name: string; file: string };
  shards?: number;
}

/** The summary's party and shards, from what a planner says it works on. */
export function setupFacts(setup: ShardSetup | undefined): Omit<ProjectFacts, "platform"> {
  if (!setup) return {};
  return { party: { name: setup.party, file: setup.file }, ...(setup.shards !== undefined ? { shards: setup.shards } : {}) };
}

/** The summary of a run: the facts first (platform, party, shards when known), then the counts and the next step. */
export function summarize(command: string, facts: ProjectFacts, filesChanged: number, findings: Finding[], next: string, itemsLeft?: number): Summary {
  const { platform, party, shards } = facts;
  return {
    command,
    platform,
    ...(party ? { party } : {}),
    ...(shards !== undefined ? { shards } : {}),
    filesChanged,
    ...(itemsLeft !== undefined ? { itemsLeft } : {}),
    findings: countByLevel(findings),
    next,
  };
}

function countByLevel(findings: Finding[]): Record<FindingLevel, number> {
  const counts: Record<FindingLevel, number> = { info: 0, warning: 0, manual: 0 };
  for (const finding of findings) counts[finding.level]++;
  return counts;
}

/**
 * The little of semver party-shard needs: comparing two versions, and telling whether a
 * package.json range can only give versions at or above a minimum, some on either side, or
 * none that is supported. Prerelease tags are ignored (a canary counts as its release).
 */

type Triple = [number, number, number];

/** Compares `major.minor.patch`, ignoring any prerelease or build suffix. */
export function compareVersions(a: string, b: string): number {
  const [x, y] = [triple(a), triple(b)];
  for (let i = 0; i < 3; i++) {
    const difference = x[i]! - y[i]!;
    if (difference !== 0) return difference;
  }
  return 0;
}

function triple(version: string): Triple {
  const parts = version.trim().replace(/^[v=]+/, "").split(/[-+]/)[0]!.split(".");
  return [0, 1, 2].map((i) => Number.parseInt(parts[i] ?? "0", 10) || 0) as Triple;
}

/**
 * Where a range stands against `minimum`: `all` its versions are at or above it, `some` are
 * below and some not (an installed version decides), `none` reaches it; `unknown` for what is
 * not a semver range (a tag, a path, a git URL, `workspace:`).
 */
export type RangeReach = "all" | "some" | "none" | "unknown";

/** One comparator set as bounds: from `low` (inclusive) up to `high` (exclusive), either open. */
interface Bounds {
  low?: Triple;
  high?: Triple;
}

export function rangeReach(range: string, minimum: string): RangeReach {
  const sets = parseRange(range.replace(/^npm:(?:@[^@/]+\/)?[^@]+@/, ""));
  if (!sets) return "unknown";
  const min = triple(minimum);
  const before = (a: Triple, b: Triple) => compareVersions(a.join("."), b.join(".")) < 0;
  const reaches = sets.some((set) => !set.high || before(min, set.high));
  const below = sets.some((set) => !set.low || before(set.low, min));
  return !reaches ? "none" : below ? "some" : "all";
}

/** The range's comparator sets (`||` between them), or undefined when it is not a semver range. */
function parseRange(range: string): Bounds[] | undefined {
  const sets: Bounds[] = [];
  for (const part of range.split("||")) {
    const text = part.trim().replace(/([<>=~^]+)\s+/g, "$1");
    const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(text);
    const comparators = hyphen ? [`>=${hyphen[1]}`, `<=${hyphen[2]}`] : text === "" ? ["*"] : text.split(/\s+/);
    const set: Bounds = {};
    for (const comparator of comparators) {
      const bounds = comparatorBounds(comparator);
      if (!bounds) return undefined;
      if (bounds.low && (!set.low || compareVersions(bounds.low.join("."), set.low.join(".")) > 0)) set.low = bounds.low;
      if (bounds.high && (!set.high || compareVersions(bounds.high.join("."), set.high.join(".")) < 0)) set.high = bounds.high;
    }
    sets.push(set);
  }
  return sets;
}

const PARTIAL = /^v?(\d+|[x*])(?:\.(\d+|[x*]))?(?:\.(\d+|[x*]))?(?:[-+][\w.+-]*)?$/i;

function comparatorBounds(comparator: string): Bounds | undefined {
  const match = /^(\^|~>?|>=|<=|>|<|=)?(.*)$/.exec(comparator)!;
  const operator = match[1] ?? "";
  const version = PARTIAL.exec(match[2]!);
  if (!version) return undefined;
  const given = [version[1], version[2], version[3]].map((part) => (part === undefined || /^[x*]$/i.test(part) ? undefined : Number(part)));
  const count = given.findIndex((part) => part === undefined);
  const fixed = count === -1 ? 3 : count;
  const low = given.map((part) => part ?? 0) as Triple;
  // The first version past everything the partial version names (1.2 → 1.3.0, 1 → 2.0.0).
  const next = (at: number): Triple | undefined => (at < 0 ? undefined : (low.map((part, i) => (i < at ? part : i === at ? part + 1 : 0)) as Triple));
  switch (operator) {
    case "^": {
      const firstNonZero = low.findIndex((part) => part !== 0);
      return { low, high: next(Math.min(firstNonZero === -1 || firstNonZero >= fixed ? fixed - 1 : firstNonZero, 2)) };
    }
    case "~":
    case "~>":
      return { low, high: next(fixed > 1 ? 1 : fixed - 1) };
    case ">=":
      return { low };
    case ">":
      return { low: fixed === 3 ? ([low[0], low[1], low[2] + 1] as Triple) : next(fixed - 1) };
    case "<":
      return { high: low };
    case "<=":
      return { high: next(fixed === 3 ? 2 : fixed - 1) };
    default:
      return fixed === 0 ? {} : { low, high: next(fixed - 1) };
  }
}

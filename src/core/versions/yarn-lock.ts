import type { LockQuery } from "./lock-query.js";

/**
 * The version yarn.lock resolves `name` to, for yarn 1 (`version "1.2.3"`) and yarn 2+ (berry,
 * `version: 1.2.3`, descriptors `name@npm:range`). A block opens at column 0 with the
 * descriptors it resolves, comma-separated. yarn.lock has no per-package section, so the block
 * whose descriptor is the package.json's own range is the package's; without a match, a block
 * that is the only one for the name.
 */
export function yarnLockVersion(text: string, { name, range }: LockQuery): string | undefined {
  const blocks: { ranges: string[]; version?: string }[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (/^[^\s#]/.test(line)) {
      const ranges = line
        .replace(/:\s*$/, "")
        .split(/,\s*/)
        .map((descriptor) => descriptor.trim().replace(/^"|"$/g, ""))
        .flatMap((descriptor) => {
          const at = descriptor.indexOf("@", 1);
          return at !== -1 && descriptor.slice(0, at) === name ? [descriptor.slice(at + 1).replace(/^npm:/, "")] : [];
        });
      blocks.push({ ranges });
      continue;
    }
    const version = /^\s+version:?\s+"?([^"\s]+)"?\s*$/.exec(line);
    const block = blocks.at(-1);
    if (version && block && block.version === undefined) block.version = version[1];
  }
  const ofName = blocks.filter((block) => block.ranges.length > 0 && block.version);
  const chosen = (range !== undefined ? ofName.find((block) => block.ranges.includes(range)) : undefined) ?? (ofName.length === 1 ? ofName[0] : undefined);
  return chosen?.version;
}

import path from "node:path";
import { PartyShardError, formatLocation } from "../../errors.js";
import { findUp } from "../find-up.js";
import { installCommand } from "../install-command.js";
import { readManifest } from "../manifest.js";
import type { Finding, Plan } from "../plan.js";
import type { Disk } from "../read-file.js";
import { readUsedVersion, type UsedVersion } from "./read-version.js";
import { compareVersions, rangeReach } from "./semver.js";
import { SUPPORTED, type SupportedPackage } from "./supported.js";

/**
 * What is wrong with the versions of `names` that the package around `dir` uses (the nearest
 * package.json at or above it): a `version-unsupported` finding for one older than SUPPORTED
 * says (manual: check lists it, init and migrate refuse), a `version-unknown` warning for one
 * that cannot be read. Paths in them are relative to `root`.
 */
export function versionFindings(disk: Disk, root: string, dir: string, names: readonly SupportedPackage[]): Finding[] {
  const packageDir = path.dirname(findUp(disk, dir, "package.json", "file") ?? path.join(dir, "package.json"));
  return names.flatMap((name) => {
    const finding = versionFinding(disk, root, packageDir, name, readUsedVersion(disk, packageDir, name));
    return finding ? [finding] : [];
  });
}

function versionFinding(disk: Disk, root: string, packageDir: string, name: SupportedPackage, used: UsedVersion): Finding | undefined {
  const { minimum, why } = SUPPORTED[name];
  const shown = (file: string) => path.relative(root, file).split(path.sep).join("/") || ".";
  const needs = `party-shard needs ${name} ${minimum} or later, because ${why}`;
  const reach = used.range ? rangeReach(used.range.spec, minimum) : undefined;
  const rangeWhere = used.range ? `${shown(used.range.manifest)}'s ${used.range.field}` : "";
  // A canary (0.0.0-<commit>) tells nothing of its age.
  if (used.version?.startsWith("0.0.0-")) return undefined;
  if (used.version !== undefined) {
    if (compareVersions(used.version, minimum) >= 0) return undefined;
    const decides = reach === "some" ? `; the range ${used.range!.spec} in ${rangeWhere} also allows ${minimum} and later, and this is the version installed` : "";
    return unsupported(`${name} ${used.version} (${shown(used.from!)}${decides}) is too old: ${needs}.`);
  }
  if (reach === "none") return unsupported(`${name} ${used.range!.spec} (the range in ${rangeWhere}; no lockfile entry or installed copy to read) allows no version party-shard supports: ${needs}.`);
  if (reach === "all") return undefined;
  const cannot =
    reach === "some" ? `the range ${used.range!.spec} in ${rangeWhere} allows versions older than ${minimum}, and no lockfile entry or installed copy says which one is used`
    : used.range ? `its range ${used.range.spec} in ${rangeWhere} is not a version range, and no lockfile entry or installed copy says which version is used`
    : `no lockfile entry, no node_modules/${name} and no range in package.json`;
  const who = shown(packageDir) === "." ? "the project" : shown(packageDir);
  const location = used.range ? { location: { file: shown(used.range.manifest) } } : {};
  return { level: "warning", code: "version-unknown", message: `Cannot tell which ${name} ${who} uses (${cannot}): ${needs}.`, ...location };

  function unsupported(text: string): Finding {
    const manifestFile = used.range?.manifest ?? path.join(packageDir, "package.json");
    const installDir = path.dirname(manifestFile);
    const dev = used.range ? used.range.field === "devDependencies" : SUPPORTED[name].dev;
    const command = installCommand(disk, installDir, readManifest(disk, installDir) ?? {}, `${dev ? "-D " : ""}${name}@${SUPPORTED[name].upgrade}`);
    const where = shown(installDir) === "." ? "" : ` in ${shown(installDir)}`;
    return { level: "manual", code: "version-unsupported", message: `${text} Upgrade it: \`${command}\`${where}.`, location: { file: shown(manifestFile), ...dependencyLine(disk, manifestFile, name) } };
  }
}

/** Where package.json names the dependency (its key's line and column), when it does. */
function dependencyLine(disk: Disk, manifest: string, name: string): { line?: number; col?: number } {
  let text: string;
  try {
    text = disk.readText(manifest);
  } catch {
    return {};
  }
  const lines = text.split("\n");
  const line = lines.findIndex((candidate) => candidate.includes(`"${name}"`) && /"\s*:/.test(candidate.slice(candidate.indexOf(`"${name}"`) + name.length + 1)));
  return line === -1 ? {} : { line: line + 1, col: lines[line]!.indexOf(`"${name}"`) + 1 };
}

/**
 * init and migrate stop (exit 2) on a package older than the generated code runs with, before
 * anything is written: with the words check would list, for each package.
 */
export function refuseUnsupportedVersions(plan: Plan, command: string): void {
  const unsupported = plan.findings.filter((finding) => finding.code === "version-unsupported");
  if (unsupported.length === 0) return;
  const again = `then run \`npx party-shard ${command}\` again.`;
  if (unsupported.length === 1) throw new PartyShardError(unsupported[0]!.message, { location: unsupported[0]!.location, hint: `Upgrade it with the command above, ${again}` });
  // Each in its own package.json, perhaps: each line says where, as check does.
  const lines = unsupported.map((finding) => `${finding.location ? `${formatLocation(finding.location)}  ` : ""}${finding.message}`);
  throw new PartyShardError(`${unsupported.length} packages are older than the generated code runs with:\n${lines.join("\n")}`, { hint: `Upgrade them with the commands above, ${again}` });
}

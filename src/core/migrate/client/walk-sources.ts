import path from "node:path";
import type { Finding } from "../../plan.js";
import type { Disk } from "../../read-file.js";

// Single-file components too: their script blocks are read as modules (component-sources.ts).
const SOURCE = /\.(ts|tsx|js|jsx|mts|cts|mjs|cjs|svelte|vue|astro)$/;
const PARTYKIT_CONFIGS = new Set(["partykit.json", "partykit.json5", "partykit.jsonc"]);
const SKIPPED_DIRS = new Set(["node_modules", "dist", "build", "out", "coverage", ".partykit", ".next", ".svelte-kit", ".turbo", ".output", ".vercel", ".cache"]);

export interface WalkedSources {
  /** Source files, by their real path. */
  files: string[];
  /** Folders holding a package.json, whose node_modules may hold packages built on partysocket. */
  packageDirs: Set<string>;
  /** Links that lead outside the project: reported, not followed. */
  findings: Finding[];
}

/**
 * Every source file under `dirs` (real paths), never node_modules or build output. A symlinked
 * folder or file inside `root` is followed once (after the real tree, so files keep their real
 * paths); one that leads outside `root` is reported, since migrate never writes there. A folder
 * with a PartyKit config of its own (not `configRoot`'s) is another app, whose `main` party is
 * not this one: it is left out, and reported.
 */
export function walkSources(disk: Disk, root: string, dirs: string[], configRoot: string): WalkedSources {
  const walked: WalkedSources = { files: [], packageDirs: new Set(), findings: [] };
  const visited = new Set<string>();
  const links: string[] = [];
  const walk = (dir: string) => {
    if (visited.has(dir)) return;
    visited.add(dir);
    const entries = disk.list(dir);
    const config = entries.find((entry) => PARTYKIT_CONFIGS.has(entry.name) && entry.kind === "file");
    if (config && !isInside(dir, configRoot) && !dirs.includes(dir)) {
      walked.findings.push(otherProjectFinding(path.join(dir, config.name)));
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const full = path.join(dir, entry.name);
      if (entry.kind === "link") links.push(full);
      else if (entry.kind === "directory" && !SKIPPED_DIRS.has(entry.name)) walk(full);
      else if (entry.kind === "file") noteFile(walked, dir, entry.name);
    }
  };
  for (const dir of dirs) walk(disk.realpath(dir));

  const seen = new Set(walked.files);
  // A link may lead to a folder holding more links: those are followed in turn, each folder once.
  for (let index = 0; index < links.length; index++) {
    const link = links[index]!;
    const real = realTarget(disk, link);
    if (!real) continue;
    const kind = disk.kindOf(real.path);
    const relevant = kind === "directory" ? !SKIPPED_DIRS.has(path.basename(link)) : kind === "file" && isSource(path.basename(real.path));
    if (!relevant) continue;
    if (!isInside(root, real.path)) {
      walked.findings.push(outsideFinding(link, real.path, kind === "directory"));
    } else if (kind === "directory") {
      walk(real.path);
    } else if (!seen.has(real.path)) {
      seen.add(real.path);
      walked.files.push(real.path);
    }
  }
  return walked;
}

function noteFile(walked: WalkedSources, dir: string, name: string): void {
  if (name === "package.json") walked.packageDirs.add(dir);
  else if (isSource(name)) walked.files.push(path.join(dir, name));
}

function isSource(name: string): boolean {
  return SOURCE.test(name) && !name.endsWith(".d.ts");
}

function realTarget(disk: Disk, link: string): { path: string } | undefined {
  try {
    return { path: disk.realpath(link) };
  } catch {
    // A dangling link holds no code.
    return undefined;
  }
}

function outsideFinding(link: string, target: string, isDirectory: boolean): Finding {
  return {
    level: "warning",
    code: "link-outside-project",
    message: `This link leads outside the project, to ${target}: migrate does not read or write there, so ${isDirectory ? "sockets in that folder are" : "a socket in that file is"} not migrated. Run migrate with --client ${target} to include it.`,
    location: { file: link },
  };
}

function otherProjectFinding(config: string): Finding {
  return {
    level: "info",
    code: "other-partykit-project",
    message: "Another PartyKit app: its folder is left out, since its sockets connect to its own parties. Run migrate there (or pass --client) if it talks to this one.",
    location: { file: config },
  };
}

export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

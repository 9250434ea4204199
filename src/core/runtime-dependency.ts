import path from "node:path";
import { installCommand } from "./install-command.js";
import type { FileChange, Finding } from "./plan.js";
import type { ProjectReader, ReadFile } from "./read-file.js";
import { PACKAGE_NAME, type PackageFiles } from "./package-info.js";

/** The range a project depends on: this version's minor line, which the generated files were written for. */
export const dependencyRange = (own: PackageFiles) => `^${own.version}`;

/**
 * `changes` and what makes `party-shard/…` resolvable from each generated file that imports it
 * (`importers`, root-relative): party-shard in the dependencies of the package.json nearest to
 * the file, added where missing (as `npm install party-shard` would write it), on top of any change
 * the plan already makes to that package.json (PartyKit's config may live in it). A package that
 * lists it in any dependency field is left as it is. `root` is the plan's root, absolute: where
 * the package manager's lockfile is looked for.
 */
export async function withRuntimeDependency(changes: FileChange[], importers: string[], reader: ProjectReader, root: string): Promise<{ changes: FileChange[]; findings: Finding[] }> {
  const range = dependencyRange(reader.own);
  const planned = new Map(changes.map((change) => [change.path, change]));
  const read: ReadFile = async (file) => planned.get(file)?.after ?? reader.read(file);
  const findings: Finding[] = [];
  // Each package once, however many of its files import the runtime.
  const seen = new Set<string>();
  for (const importer of importers) {
    const manifest = await nearestManifest(importer, read);
    if (seen.has(manifest?.file ?? importer)) continue;
    seen.add(manifest?.file ?? importer);
    if (!manifest) {
      // Its packages may come from a package.json above the project's root, which is not ours to
      // edit: said once, when the file is written.
      if (!planned.has(importer)) continue;
      findings.push({
        level: "info",
        code: "runtime-dependency",
        message: `${importer} imports ${PACKAGE_NAME}, and no package.json in the project lists it: install ${PACKAGE_NAME} ${range} where the project's packages come from, or run again with --vendor to copy the runtime into the project.`,
        location: { file: importer },
      });
      continue;
    }
    const edit = withDependency(manifest.text, range);
    if (edit === "listed") continue;
    if (edit === "unreadable") {
      findings.push({
        level: "manual",
        code: "runtime-dependency",
        message: `${manifest.file} is not a JSON object, so ${PACKAGE_NAME} could not be added to it; ${importer} imports it. Add "${PACKAGE_NAME}": "${range}" to its dependencies.`,
        location: { file: manifest.file },
      });
      continue;
    }
    const earlier = planned.get(manifest.file);
    planned.set(manifest.file, { path: manifest.file, before: earlier ? earlier.before : manifest.text, after: edit.text });
    const dir = path.resolve(root, path.posix.dirname(manifest.file));
    findings.push({
      level: "info",
      code: "runtime-dependency",
      message: `Added ${PACKAGE_NAME} ${range} to ${manifest.file}'s dependencies: ${importer} imports the runtime from it. Then run: ${installCommand(reader.disk, dir, edit.manifest)}`,
      location: { file: manifest.file },
    });
  }
  return { changes: [...planned.values()], findings };
}

async function nearestManifest(file: string, read: ReadFile): Promise<{ file: string; text: string } | undefined> {
  for (let dir = path.posix.dirname(file); ; dir = path.posix.dirname(dir)) {
    const candidate = dir === "." ? "package.json" : `${dir}/package.json`;
    const text = await read(candidate);
    if (text !== null) return { file: candidate, text };
    if (dir === "." || dir === "/" || dir === "") return undefined;
  }
}

type Manifest = Record<string, unknown> & { packageManager?: unknown };

/**
 * The package.json with party-shard added to `dependencies`, whose keys stay sorted as npm keeps
 * them; the file's indentation and line endings are kept.
 */
function withDependency(text: string, range: string): { text: string; manifest: Manifest } | "listed" | "unreadable" {
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    return "unreadable";
  }
  if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) return "unreadable";
  const fields = ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"];
  const record = manifest as Manifest;
  if (fields.some((field) => isObject(record[field]) && Object.hasOwn(record[field], PACKAGE_NAME))) return "listed";
  if (record.dependencies !== undefined && !isObject(record.dependencies)) return "unreadable";
  const dependencies = { ...(record.dependencies as Record<string, unknown> | undefined), [PACKAGE_NAME]: range };
  record.dependencies = Object.fromEntries(Object.entries(dependencies).sort(([a], [b]) => a.localeCompare(b, "en")));
  const indent = /^([ \t]+)"/m.exec(text)?.[1] ?? "  ";
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  const json = JSON.stringify(record, null, indent).replaceAll("\n", eol);
  return { text: /\r?\n$/.test(text) ? json + eol : json, manifest: record };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

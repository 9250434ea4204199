import path from "node:path";
import { Project } from "ts-morph";
import { PartyShardError } from "../../errors.js";
import { detectCodeStyle, relativeImport } from "../code-style.js";
import { buildOutputReason, sourcesOf } from "./build-output.js";
import { generatedFileChange, readTarget } from "../generated-file.js";
import { chooseRuntimeMode, vendoredChanges } from "../runtime-files.js";
import type { ServerHalf } from "../migrate/join-halves.js";
import type { ProjectReader, ReadFile } from "../read-file.js";
import type { FileChange, Finding } from "../plan.js";
import type { RouterSetup } from "./find-router.js";
import { GLUE_FILE_NAME, renderGlue } from "./render-glue.js";
import { patchParty } from "./patch-party.js";

const VIRTUAL_ROOT = "/project";

/** The server half of migrate: the glue module, and the party wrapped so its room leads the shards. */
export async function planServer(setup: RouterSetup, reader: Pick<ProjectReader, "read" | "own">, options: { force: boolean; vendor?: boolean }): Promise<ServerHalf> {
  const { force } = options;
  const { read, own } = reader;
  const glueFile = path.posix.join(path.posix.dirname(setup.routerFile), GLUE_FILE_NAME);
  const mode = chooseRuntimeMode(options.vendor, await readTarget(glueFile, read));
  const glueChange = await generatedFileChange(glueFile, renderGlue({ ...setup, mode }, own), read, force);
  const changes: FileChange[] = glueChange ? [glueChange] : [];
  const vendored = await vendoredChanges("partykit", glueFile, mode, reader, force);
  changes.push(...vendored.changes);
  const importers = mode === "package" ? [glueFile] : [];

  const before = await read(setup.partyFile);
  if (before === null) {
    throw new PartyShardError(`The sharded party's file ${setup.partyFile} does not exist.`, { location: { file: setup.partyFile } });
  }
  // A patch to a bundle is undone by the next build: the source is what init should shard.
  const built = buildOutputReason(setup.partyFile, before);
  if (built) return { changes, findings: [await builtPartyFinding(setup.partyFile, before, built, read), ...vendored.findings], importers };
  // noLib: finding the party needs the binder, not the standard library (which costs ~0.5 s to load).
  const project = new Project({ useInMemoryFileSystem: true, compilerOptions: { allowJs: true, noLib: true } });
  const file = project.createSourceFile(path.posix.join(VIRTUAL_ROOT, setup.partyFile), before);
  const style = detectCodeStyle(before);
  const findings = patchParty(file, { glueSpecifier: relativeImport(setup.partyFile, glueFile, before), style });
  const after = file.getFullText();
  if (after !== before) changes.push({ path: setup.partyFile, before, after });
  for (const finding of findings) {
    if (finding.location) finding.location.file = path.posix.relative(VIRTUAL_ROOT, finding.location.file);
  }
  return { changes, findings: [...findings.sort(byLocation), ...vendored.findings], importers };
}

async function builtPartyFinding(file: string, text: string, reason: string, read: ReadFile): Promise<Finding> {
  let source: string | undefined;
  for (const candidate of await sourcesOf(file, text, read)) {
    if ((await read(candidate).catch(() => null)) !== null) {
      source = candidate;
      break;
    }
  }
  return {
    level: "manual",
    code: "party-is-build-output",
    message: `The sharded party's file is a build output (${reason}): a patch here would be undone by the next build, so it is left as it is. Shard its source instead: npx party-shard init --party ${source ?? "<the party's source file>"}, then migrate again.`,
    location: { file, line: 1, col: 1 },
  };
}

function byLocation(a: Finding, b: Finding): number {
  return (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0);
}

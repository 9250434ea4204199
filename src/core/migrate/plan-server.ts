import path from "node:path";
import { Project } from "ts-morph";
import { PartyShardError } from "../../errors.js";
import { detectCodeStyle, relativeImport } from "../code-style.js";
import { generatedFileChange } from "../generated-file.js";
import type { ReadFile } from "../read-file.js";
import type { FileChange, Finding } from "../plan.js";
import type { RouterSetup } from "./find-router.js";
import { GLUE_FILE_NAME, renderGlue } from "./server/render-glue.js";
import { patchParty } from "./server/patch-party.js";

const VIRTUAL_ROOT = "/project";

/** The server half of migrate: the glue module, and the party wrapped so its room leads the shards. */
export async function planServer(setup: RouterSetup, read: ReadFile, force: boolean): Promise<{ changes: FileChange[]; findings: Finding[] }> {
  const glueFile = path.posix.join(path.posix.dirname(setup.routerFile), GLUE_FILE_NAME);
  const glueChange = await generatedFileChange(glueFile, renderGlue(setup), read, force);
  const changes: FileChange[] = glueChange ? [glueChange] : [];

  const before = await read(setup.partyFile);
  if (before === null) {
    throw new PartyShardError(`The sharded party's file ${setup.partyFile} does not exist.`, { location: { file: setup.partyFile } });
  }
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
  return { changes, findings: findings.sort(byLocation) };
}

function byLocation(a: Finding, b: Finding): number {
  return (a.location?.line ?? 0) - (b.location?.line ?? 0) || (a.location?.col ?? 0) - (b.location?.col ?? 0);
}

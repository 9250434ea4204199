import { SyntaxKind, type ImportDeclaration, type Node, type SourceFile } from "ts-morph";
import { importEdits } from "../add-import.js";
import { statement, type CodeStyle } from "../code-style.js";
import { FINDINGS, findingAt, type Finding, type FindingCode } from "../findings.js";
import { findParty, WRAPPER, type PartyExport } from "./find-party.js";
import { OLD_CALLS, oldCalls, removeOldPatch } from "./remove-old-patch.js";
import { applyEdits, type Edit } from "../text-edits.js";

export interface PatchPartyOptions {
  /** Module specifier of the generated server glue, as the party file should import it. */
  glueSpecifier: string;
  style: CodeStyle;
}

/** What the server half reports: the party wrapped, a party it cannot wrap, a leftover of the old patch. */
type ServerFindingCode = Extract<FindingCode, "party-patched" | "party-not-patchable" | "old-patch-left">;

/**
 * Makes the party's room lead its shards: `import { sharded }` from the glue and
 * `export default sharded(Party)`, undoing what an earlier migrate added. Edits `file` in place.
 */
export function patchParty(file: SourceFile, options: PatchPartyOptions): Finding[] {
  const finding = (node: Node | undefined, code: ServerFindingCode, message: string) => findingAt(file, node, FINDINGS[code].levels[0], code, message);
  const found = findParty(file);
  if ("problem" in found) {
    const step = `wrap the party's default export: \`export default ${WRAPPER}(Party)\` with \`import { ${WRAPPER} } from "${options.glueSpecifier}"\``;
    return [finding(found.node, "party-not-patchable", `Cannot patch the party: ${found.problem}. By hand, ${step}.`)];
  }
  const before = file.getFullText();
  // Every edit measured on the file as it is, then applied at once: ts-morph forgets nodes on each
  // edit. The import goes first: in a file without imports it lands at 0, before the export.
  const edits = [...importWrapper(file, options), ...wrapExport(file, found.party, options.style), ...removeOldPatch(file)];
  if (edits.length > 0) file.replaceWithText(applyEdits(before, edits));

  const findings = oldCalls(file).map((call) =>
    finding(call, "old-patch-left", `\`${call.getExpression().getText()}\` is gone from the glue: the party now runs once, in its own room, where \`room.id\` is the real id. Remove this call.`),
  );
  if (file.getFullText() !== before) {
    const at = file.getExportAssignment((assignment) => !assignment.isExportEquals());
    findings.unshift(finding(at, "party-patched", "The party now leads its shards: it runs once, in its own room, for clients on every shard."));
  }
  return findings;
}

/** `export default class Chat {…}` → `class Chat {…}` + `export default sharded(Chat);`; `export default x` → `export default sharded(x)`. */
function wrapExport(file: SourceFile, party: PartyExport, style: CodeStyle): Edit[] {
  if (party.kind === "expression") {
    if (party.wrapped) return [];
    // Two insertions, not one replacement, so edits inside the expression (the old onRequest) still apply.
    const expression = party.node.getExpression();
    return [
      { at: expression.getStart(), end: expression.getStart(), insert: `${WRAPPER}(` },
      { at: expression.getEnd(), end: expression.getEnd(), insert: ")" },
    ];
  }
  const { node } = party;
  const name = node.getName() ?? freeName(file, "Party");
  const exportStart = node.getFirstModifierByKindOrThrow(SyntaxKind.ExportKeyword).getStart();
  const defaultEnd = node.getFirstModifierByKindOrThrow(SyntaxKind.DefaultKeyword).getEnd();
  const classKeywordEnd = node.getFirstChildByKindOrThrow(SyntaxKind.ClassKeyword).getEnd();
  const wrapped = statement(style, `export default ${WRAPPER}(${name})`);
  return [
    // Only `export default ` goes: decorators and comments stay where they are.
    { at: exportStart, end: defaultEnd + /^\s*/.exec(file.getFullText().slice(defaultEnd))![0].length, insert: "" },
    ...(node.getName() ? [] : [{ at: classKeywordEnd, end: classKeywordEnd, insert: ` ${name}` }]),
    { at: node.getEnd(), end: node.getEnd(), insert: `${style.newline}${style.newline}${wrapped}` },
  ];
}

/** `import { sharded } from "../migrate/server/party-shard-server"`; an earlier import of what the glue no longer exports loses those names. */
function importWrapper(file: SourceFile, { glueSpecifier, style }: PatchPartyOptions): Edit[] {
  const sameModule = (specifier: string) => specifier.replace(/\.js$/, "") === glueSpecifier.replace(/\.js$/, "");
  const isModule = (declaration: ImportDeclaration) => sameModule(declaration.getModuleSpecifierValue());
  return importEdits(file, { names: [WRAPPER], specifier: glueSpecifier, isModule, gone: [...OLD_CALLS] }, style);
}

/** `base`, or `base2`, … whichever no identifier in the file already uses. */
function freeName(file: SourceFile, base: string): string {
  const used = new Set(file.getDescendantsOfKind(SyntaxKind.Identifier).map((id) => id.getText()));
  let name = base;
  for (let i = 2; used.has(name); i++) name = `${base}${i}`;
  return name;
}

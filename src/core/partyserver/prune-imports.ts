import { Node, type ImportSpecifier, type SourceFile } from "ts-morph";
import type { Edit } from "../text-edits.js";

/**
 * Edits that drop the named imports of `module` bound to `names` (local names a rewrite replaced)
 * that nothing uses any more, so `Server` goes once no class extends it but stays while anything
 * else uses it. A declaration left with nothing goes whole, with its line.
 */
export function pruneImportEdits(file: SourceFile, module: string, names: Set<string>): Edit[] {
  const uses = new Map<ImportSpecifier, number>();
  for (const identifier of file.getDescendants().filter(Node.isIdentifier)) {
    if (identifier.getFirstAncestor(Node.isImportDeclaration)) continue;
    const declaration = identifier.getSymbol()?.getDeclarations()[0];
    if (Node.isImportSpecifier(declaration)) uses.set(declaration, (uses.get(declaration) ?? 0) + 1);
  }
  const edits: Edit[] = [];
  const text = file.getFullText();
  for (const declaration of file.getImportDeclarations()) {
    if (declaration.getModuleSpecifierValue() !== module || declaration.isTypeOnly()) continue;
    const named = declaration.getNamedImports();
    const unused = (specifier: ImportSpecifier) => !uses.has(specifier) && !specifier.isTypeOnly() && names.has((specifier.getAliasNode() ?? specifier.getNameNode()).getText());
    const drop = named.map(unused);
    if (!drop.includes(true)) continue;
    if (drop.every(Boolean) && !declaration.getDefaultImport() && !declaration.getNamespaceImport()) {
      const end = declaration.getEnd() + (/^\r?\n/.exec(text.slice(declaration.getEnd()))?.[0].length ?? 0);
      edits.push({ at: declaration.getStart(), end, insert: "" });
      continue;
    }
    // Each run of dropped names goes with the commas that separate it from the names kept.
    for (let i = 0; i < named.length; i++) {
      if (!drop[i]) continue;
      let k = i;
      while (k + 1 < named.length && drop[k + 1]) k++;
      const lastRun = k === named.length - 1;
      if (!lastRun) edits.push({ at: named[i]!.getStart(), end: named[k + 1]!.getStart(), insert: "" });
      else if (i > 0) edits.push({ at: named[i - 1]!.getEnd(), end: named[k]!.getEnd(), insert: "" });
      else edits.push({ at: named[i]!.getStart(), end: named[k]!.getEnd(), insert: "" });
      i = k;
    }
  }
  return edits;
}

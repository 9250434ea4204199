import { readFileSync } from "node:fs";

const RUNTIME_DIR = new URL("../../src/runtime/", import.meta.url);
/** `import … from "…";` over one or more lines. */
const IMPORT = /^import\s[^;]*?\sfrom\s+"([^"]+)";\n/gm;
/** The export list each runtime module ends with; a bundle is one module and exports what its template says. */
const EXPORT_LIST = /^export (?:type )?\{[^}]*\};\n/gm;

/**
 * The runtime modules `entry` needs (src/runtime/<entry>.ts and what it imports), as one file:
 * each module once, after the modules it imports, without its imports and export lists; imports
 * of packages (partykit, partyserver) come first, once each. The modules share one scope in the
 * bundle, so two modules must not declare the same top-level name (the type-check tests catch it).
 */
export function bundleRuntime(entry: string): string {
  // Each module read once: its imports decide the order, its text is the body.
  const texts = new Map<string, string>();
  const visit = (name: string, path: string[]) => {
    if (texts.has(name)) return;
    if (path.includes(name)) throw new Error(`Runtime modules import each other: ${[...path, name].join(" → ")}`);
    const text = readModule(name);
    for (const dependency of relativeImports(text)) visit(dependency, [...path, name]);
    texts.set(name, text);
  };
  visit(entry, []);
  const packages = new Set<string>();
  const bodies = [...texts.values()].map((text) =>
    text
      .replace(IMPORT, (statement, from: string) => {
        if (!from.startsWith("./")) packages.add(statement.trimEnd());
        return "";
      })
      .replace(EXPORT_LIST, "")
      .trim(),
  );
  return [[...packages].join("\n"), ...bodies].filter(Boolean).join("\n\n");
}

/** The runtime modules a module imports, by name (`./leader.js` → `leader`). */
function relativeImports(text: string): string[] {
  return [...text.matchAll(IMPORT)].flatMap(([, from]) => (from!.startsWith("./") ? [from!.slice(2).replace(/\.js$/, "")] : []));
}

function readModule(name: string): string {
  return readFileSync(new URL(`${name}.ts`, RUNTIME_DIR), "utf8").replaceAll("\r\n", "\n");
}

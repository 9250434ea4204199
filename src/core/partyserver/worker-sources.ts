import path from "node:path";
import { Project, ts, type SourceFile } from "ts-morph";
import { PartyShardError } from "../../errors.js";
import { insideRoot } from "../config/party-file.js";
import type { LoadedWrangler } from "../config/wrangler/loaded-wrangler.js";
import type { ReadFile } from "../read-file.js";
import { isRuntimeSpecifier } from "./server-class.js";

/** Where the parsed files sit in memory; findings are made relative to it. */
export const VIRTUAL_ROOT = "/project";
// A Worker's own modules, not its whole dependency tree: enough to follow re-exports and base classes.
const MAX_FILES = 200;
const EXTENSIONS = [".ts", ".tsx", ".mts", ".js", ".mjs", ".jsx"];

/** The Worker's main module and the project files it reaches by relative imports and re-exports, parsed in memory. */
export interface WorkerSources {
  project: Project;
  main: SourceFile;
  /** The root-relative path of a parsed file. */
  relative(file: SourceFile): string;
  /** The parsed file at a root-relative path, if it was reached. */
  get(file: string): SourceFile | undefined;
}

/**
 * Parses the Worker's main module and, following relative `import`/`export … from` specifiers,
 * the project's own modules it reaches (never node_modules, never outside the root). Nothing is
 * type-checked: the binder is enough to follow names, and `noLib` keeps it fast.
 */
export async function loadWorkerSources(loaded: LoadedWrangler, read: ReadFile): Promise<WorkerSources> {
  const project = new Project({
    useInMemoryFileSystem: true,
    compilerOptions: { allowJs: true, noLib: true, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler },
  });
  const mainText = await read(loaded.main).catch(() => null);
  if (mainText === null) {
    throw new PartyShardError(`The Worker's main module ${loaded.main} (\`main\` in ${loaded.file}) cannot be read.`, {
      location: { file: loaded.file },
      hint: "Point `main` at the Worker's entry file.",
    });
  }
  const main = project.createSourceFile(virtual(loaded.main), mainText);
  const queue = [main];
  while (queue.length > 0 && project.getSourceFiles().length < MAX_FILES) {
    const file = queue.shift()!;
    for (const specifier of relativeSpecifiers(file)) {
      const found = await resolveModule(project, path.posix.join(path.posix.dirname(rel(file)), specifier), read);
      if (found) queue.push(found);
    }
  }
  return { project, main, relative: rel, get: (file) => project.getSourceFile(virtual(file)) };
}

const virtual = (file: string) => path.posix.join(VIRTUAL_ROOT, file);
const rel = (file: SourceFile) => path.posix.relative(VIRTUAL_ROOT, file.getFilePath());

function relativeSpecifiers(file: SourceFile): string[] {
  const declarations = [...file.getImportDeclarations(), ...file.getExportDeclarations()];
  return declarations.map((declaration) => declaration.getModuleSpecifierValue()).filter((specifier): specifier is string => specifier?.startsWith(".") === true);
}

/** Parses the module a relative specifier names (`./chat`, `./chat.js`, `./rooms/`); undefined when it was parsed already, is the runtime, or is missing. */
async function resolveModule(project: Project, base: string, read: ReadFile): Promise<SourceFile | undefined> {
  const stem = base.replace(/\.[cm]?jsx?$/, "");
  const candidates = [base, ...EXTENSIONS.map((ext) => stem + ext), ...EXTENSIONS.map((ext) => `${base}/index${ext}`)];
  for (const candidate of candidates) {
    const file = path.posix.normalize(candidate);
    if (!insideRoot(file) || file.split("/").includes("node_modules")) continue;
    // The generated runtime is known by its import, not by its (long) text.
    if (isRuntimeSpecifier(file)) return undefined;
    if (project.getSourceFile(virtual(file))) return undefined;
    const text = await read(file).catch(() => null);
    if (text !== null) return project.createSourceFile(virtual(file), text);
  }
  return undefined;
}

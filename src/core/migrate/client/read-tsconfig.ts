import path from "node:path";
import { ts } from "ts-morph";
import { PartyShardError } from "../../../errors.js";
import type { Finding } from "../../plan.js";

export interface TsconfigOptions {
  options: ts.CompilerOptions;
  /** One warning naming what could not be read and how to fix it; migrate goes on without it. */
  finding: Finding | undefined;
}

// Diagnostics that say nothing about following imports: the host lists no files on purpose.
const NO_INPUTS_FOUND = 18003;
const EXTENDS_NOT_FOUND = new Set([6053, 5083]);
const BUILD_ONLY = 5093;
const UNKNOWN_OPTION = new Set([5023, 5024, 5025]);

/**
 * The tsconfig's compiler options, `extends` followed, without listing the files its `include`
 * matches (on a large repository that walk costs more than the whole analysis): only candidates
 * are added, by path. Like esbuild, what cannot be read (a base that is not installed or not
 * generated yet, an option this TypeScript does not know) is skipped with one warning; only a
 * file that is not JSON at all stops the run.
 */
export function readTsconfig(file: string, root: string): TsconfigOptions {
  const relative = path.relative(root, file).split(path.sep).join("/");
  const { error } = ts.readConfigFile(file, ts.sys.readFile);
  if (error) {
    const where = error.file && error.start !== undefined ? error.file.getLineAndCharacterOfPosition(error.start) : undefined;
    throw new PartyShardError(`Not a usable tsconfig: ${ts.flattenDiagnosticMessageText(error.messageText, " ")}`, {
      location: { file: relative, line: where && where.line + 1, col: where && where.character + 1 },
      hint: "migrate reads its compilerOptions (paths, jsx, module resolution) to follow imports. Fix it, or run tsc -p . to see every problem.",
    });
  }
  // Parsed again as a source file, so each problem has its line and column.
  const parsed = ts.parseJsonSourceFileConfigFileContent(ts.readJsonConfigFile(file, ts.sys.readFile), { ...ts.sys, readDirectory: () => [] }, path.dirname(file), undefined, file);
  const problems = parsed.errors.filter((diagnostic) => diagnostic.code !== NO_INPUTS_FOUND);
  return { options: parsed.options, finding: problems.length > 0 ? tsconfigFinding(relative, file, problems) : undefined };
}

function tsconfigFinding(file: string, absolute: string, problems: ts.Diagnostic[]): Finding {
  const texts = problems.map((problem) => ts.flattenDiagnosticMessageText(problem.messageText, " "));
  const fixes = new Set<string>();
  for (const [index, problem] of problems.entries()) {
    if (EXTENDS_NOT_FOUND.has(problem.code)) fixes.add(fixForMissingBase(texts[index]!));
    else if (problem.code === BUILD_ONLY) fixes.add("move build-only options (verbose, force, clean, dry) to the `tsc --build` command line");
    else if (UNKNOWN_OPTION.has(problem.code)) fixes.add("remove the option or update TypeScript if a newer one knows it");
  }
  return {
    level: "warning",
    code: "tsconfig-partly-read",
    message: `Read this tsconfig without what it could not: ${texts.map((text) => text.replace(/\.$/, "")).join("; ")}. Imports it would resolve may be missed. To fix: ${[...fixes].join("; ") || "run tsc -p . to see every problem"}.`,
    location: { file, ...firstPosition(absolute, problems) },
  };
}

/** Where the first problem is in the tsconfig itself; a missing base is reported without one, so its `extends` is shown. */
function firstPosition(file: string, problems: ts.Diagnostic[]): { line: number; col: number } | undefined {
  const placed = problems.find((problem) => problem.file?.fileName === file && problem.start !== undefined);
  if (placed) {
    const { line, character } = placed.file!.getLineAndCharacterOfPosition(placed.start!);
    return { line: line + 1, col: character + 1 };
  }
  const text = ts.sys.readFile(file) ?? "";
  const at = text.indexOf('"extends"');
  if (at < 0) return undefined;
  const before = text.slice(0, at).split("\n");
  return { line: before.length, col: before.at(-1)!.length + 1 };
}

/** What makes an `extends` target exist: a generated base is made by its framework's sync step, a package by installing. */
function fixForMissingBase(text: string): string {
  if (text.includes(".svelte-kit")) return "run `svelte-kit sync` (or any `vite dev`/`vite build`) to generate .svelte-kit/tsconfig.json";
  if (text.includes(".nuxt")) return "run `nuxi prepare` to generate .nuxt/tsconfig.json";
  if (text.includes(".astro") || text.includes(".react-router") || text.includes(".expo")) return "run the framework's dev or typegen command once to generate the file it extends";
  return "install dependencies (npm install, pnpm install, …) so the package it extends is there";
}

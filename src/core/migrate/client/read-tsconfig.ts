import path from "node:path";
import { ts } from "ts-morph";
import { PartyShardError } from "../../../errors.js";
import type { Finding } from "../../plan.js";
import type { Disk } from "../../read-file.js";

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
 * file that is not JSON at all stops the run. The tsconfig and the bases it extends are read
 * through `disk`.
 */
export function readTsconfig(disk: Disk, file: string, root: string): TsconfigOptions {
  const relative = path.relative(root, file).split(path.sep).join("/");
  const host = configHost(disk);
  const { error } = ts.readConfigFile(file, host.readFile);
  if (error) {
    const where = error.file && error.start !== undefined ? error.file.getLineAndCharacterOfPosition(error.start) : undefined;
    throw new PartyShardError(`Not a usable tsconfig: ${ts.flattenDiagnosticMessageText(error.messageText, " ")}`, {
      location: { file: relative, line: where && where.line + 1, col: where && where.character + 1 },
      hint: "migrate reads its compilerOptions (paths, jsx, module resolution) to follow imports. Fix it, or run tsc -p . to see every problem.",
    });
  }
  // Parsed again as a source file, so each problem has its line and column.
  const parsed = ts.parseJsonSourceFileConfigFileContent(ts.readJsonConfigFile(file, host.readFile), host, path.dirname(file), undefined, file);
  const problems = parsed.errors.filter((diagnostic) => diagnostic.code !== NO_INPUTS_FOUND);
  return { options: parsed.options, finding: problems.length > 0 ? tsconfigFinding(relative, file, problems, host.readFile(file) ?? "") : undefined };
}

/**
 * What TypeScript asks while it follows `extends` (a package's base is resolved as a module:
 * package.json files, folders, links), answered from `disk` as ts.sys answers it from the real
 * one. It lists no folder: the files `include` matches are not wanted.
 */
function configHost(disk: Disk): ts.ParseConfigHost & ts.ModuleResolutionHost {
  return {
    useCaseSensitiveFileNames: ts.sys.useCaseSensitiveFileNames,
    readDirectory: () => [],
    fileExists: (file) => disk.kindOf(file) === "file",
    directoryExists: (dir) => disk.kindOf(dir) === "directory",
    readFile: (file) => {
      try {
        return decodeAsTypeScript(disk.readBytes(file));
      } catch {
        return undefined;
      }
    },
    realpath: (file) => {
      try {
        return disk.realpath(file);
      } catch {
        return file;
      }
    },
    getCurrentDirectory: ts.sys.getCurrentDirectory,
  };
}

/** A file's text as ts.sys.readFile decodes it: UTF-16 by its byte order mark, else UTF-8, the mark dropped. */
function decodeAsTypeScript(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer[0] === 0xfe && buffer[1] === 0xff) return Buffer.from(buffer.subarray(0, buffer.length & ~1)).swap16().toString("utf16le", 2);
  if (buffer[0] === 0xff && buffer[1] === 0xfe) return buffer.toString("utf16le", 2);
  if (buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) return buffer.toString("utf8", 3);
  return buffer.toString("utf8");
}

function tsconfigFinding(file: string, absolute: string, problems: ts.Diagnostic[], text: string): Finding {
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
    location: { file, ...firstPosition(absolute, problems, text) },
  };
}

/** Where the first problem is in the tsconfig itself; a missing base is reported without one, so its `extends` is shown. */
function firstPosition(file: string, problems: ts.Diagnostic[], text: string): { line: number; col: number } | undefined {
  const placed = problems.find((problem) => problem.file?.fileName === file && problem.start !== undefined);
  if (placed) {
    const { line, character } = placed.file!.getLineAndCharacterOfPosition(placed.start!);
    return { line: line + 1, col: character + 1 };
  }
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

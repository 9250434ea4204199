import path from "node:path";
import { escapeRegExp } from "../../escape-regexp.js";

/** A source file as read from disk. */
export interface SourceText {
  file: string;
  text: string;
}

/** Whether the installed package `name` depends on partysocket, so its exports may be sockets. */
export type PackageLookup = (name: string) => boolean;

// Yjs providers (y-partykit, y-partyserver) make their own sockets to a party.
const SOCKET_WORDS = /partysocket|PartySocket|y-partykit|y-partyserver/;
// A raw WebSocket made here (the global one, or the `ws` package's under any name) may reach a party by its URL.
const RAW_SOCKET_WORDS = /\bnew\s+(?:[\w$]+\.)?WebSocket\s*\(|\b(?:from|require\s*\()\s*["'](?:isomorphic-)?ws["']/;
// `let socket: any` with a `.send(` gets a finding of its own, socket or not.
const ANY_TYPED = /:\s*any\b/;
const SEND_CALL = /\.send\s*\(/;
// `from "x"`, `import "x"`, `import("x")`, `require("x")`, `import x = require("x")`.
const SPECIFIER = /\b(?:from|import|require)\s*\(?\s*(["'`])([^"'`\n$]+)\1/g;
const MODULE_SYNTAX = /^\s*(?:import|export)\b/m;
// Names a script file (no import/export) or a `declare global` block puts in the global scope.
const GLOBAL_NAME = /\b(?:var|let|const|function|class)\s+([A-Za-z_$][\w$]*)/g;
const EXTENSION = /\.(?:[cm]?[jt]sx?)$/;

/**
 * The files that can hold a PartySocket, decided from text alone, before anything is parsed.
 *
 * A socket value reaches code only three ways: the file names partysocket itself (an import,
 * a `PartySocket` type) or makes a raw WebSocket, it imports a module that can hold one (or a
 * package that depends on partysocket), or it reads a global that a script declares. So the
 * seeds are the files that name partysocket or make a WebSocket, and the rest follow their
 * importers to a fixed point. A file that only
 * calls `mailer.send()` on things of its own is never a candidate: on a large app that is most
 * files, and the reason migrate can be faster than a type check.
 *
 * The test errs on the side of keeping a file: a module specifier matches by its last segment
 * when it is not relative (path aliases, workspace folders), and a comment that looks like an
 * import counts as one.
 */
export function socketCandidates(sources: SourceText[], packageUsesPartysocket: PackageLookup): string[] {
  const scanned = sources.map((source) => ({ ...source, specifiers: [...source.text.matchAll(SPECIFIER)].map((match) => match[2]!) }));
  const packages = new Map<string, boolean>();
  const socketPackage = (specifier: string) => {
    if (isRelative(specifier)) return false;
    const name = packageName(specifier);
    if (!packages.has(name)) packages.set(name, packageUsesPartysocket(name));
    return packages.get(name)!;
  };
  const candidates = new Set<string>();
  const importers = new Map<string, string[]>();
  for (const source of scanned) {
    const isSeed = SOCKET_WORDS.test(source.text) || RAW_SOCKET_WORDS.test(source.text) || (ANY_TYPED.test(source.text) && SEND_CALL.test(source.text)) || source.specifiers.some(socketPackage);
    if (isSeed) candidates.add(source.file);
    for (const specifier of source.specifiers) {
      const key = importKey(source.file, specifier);
      const files = importers.get(key);
      if (files) files.push(source.file);
      else importers.set(key, [source.file]);
    }
  }

  // Importers of candidates are candidates, to a fixed point; scripts' globals are followed by name.
  const queue = [...candidates];
  const globals = new Set<string>();
  const add = (file: string) => {
    if (candidates.has(file)) return;
    candidates.add(file);
    queue.push(file);
  };
  const byFile = new Map(scanned.map((source) => [source.file, source]));
  while (queue.length > 0) {
    const file = queue.pop()!;
    for (const key of moduleKeys(file)) for (const importer of importers.get(key) ?? []) add(importer);
    const text = byFile.get(file)?.text ?? "";
    if (!MODULE_SYNTAX.test(text) || text.includes("declare global")) {
      const fresh = [...text.matchAll(GLOBAL_NAME)].map((match) => match[1]!).filter((name) => !globals.has(name));
      if (fresh.length === 0) continue;
      for (const name of fresh) globals.add(name);
      const word = new RegExp(`(?<![\\w$])(?:${fresh.map(escapeRegExp).join("|")})(?![\\w$])`);
      for (const source of scanned) if (!candidates.has(source.file) && word.test(source.text)) add(source.file);
    }
  }
  return sources.map((source) => source.file).filter((file) => candidates.has(file));
}

function isRelative(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../") || specifier === "." || specifier === "..";
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/** What an import points at: the resolved path for a relative one, else its last segment. */
function importKey(importer: string, specifier: string): string {
  if (isRelative(specifier)) return `path:${path.resolve(path.dirname(importer), specifier).replace(EXTENSION, "")}`;
  const segments = specifier.replace(EXTENSION, "").split("/").filter(Boolean);
  const last = segments.at(-1) === "index" ? segments.at(-2) : segments.at(-1);
  return `stem:${last ?? specifier}`;
}

/** Every key an import of `file` can have: its path without extension, its folder for an index file, and the stems of both. */
function moduleKeys(file: string): string[] {
  const base = file.replace(EXTENSION, "");
  const keys = [`path:${base}`, `stem:${path.basename(base)}`];
  if (path.basename(base) === "index") keys.push(`path:${path.dirname(base)}`, `stem:${path.basename(path.dirname(base))}`);
  return keys;
}


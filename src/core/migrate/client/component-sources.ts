import { escapeRegExp } from "../../escape-regexp.js";
import type { Finding } from "../../plan.js";
import { applyEdits } from "../../text-edits.js";
import type { SourceText } from "./candidate-files.js";
import { COMPONENT, componentBlocks, lineAndCol, type ScriptBlock } from "./component-blocks.js";
import type { ClientFileChange } from "./plan-client.js";

/** Each script block's virtual file (absolute path): the component it came from, its text, and where the block sits. */
export type ComponentMap = Map<string, { component: string; text: string; block: ScriptBlock }>;

// Words that make a block migrate cannot read worth a manual step: it may hold a socket or a send.
const SOCKET_TEXT = /partysocket|PartySocket|\.send\s*\(/;

/**
 * The sources with each component (`.svelte`, `.vue`, `.astro`) replaced by one source per
 * script block, so the rest of migrate reads a block as it reads any module: the same candidate
 * test, parse, analysis and edits. A block's virtual file sits beside its component
 * (`Chat.svelte.0.ts`), so its relative imports resolve as the component's do, and its extension
 * is the block's language. `notUtf8` components are kept whole: they are reported and never edited.
 */
export function expandComponents(sources: SourceText[], notUtf8: Set<string>): { sources: SourceText[]; components: ComponentMap; findings: Finding[] } {
  const components: ComponentMap = new Map();
  const findings: Finding[] = [];
  const expanded = sources.flatMap((source) => {
    if (!COMPONENT.test(source.file) || notUtf8.has(source.file)) return [source];
    const { blocks, foreign, unterminated } = componentBlocks(source.file, source.text);
    const at = (position: { line: number; col: number }) => ({ file: source.file, line: position.line, col: position.col });
    if (unterminated) {
      findings.push({ level: "manual", code: "parse-error", message: `Does not parse (${unterminated.what}); skipped.`, location: at(unterminated) });
      return [];
    }
    for (const block of foreign) {
      const level = SOCKET_TEXT.test(block.code) ? "manual" : "info";
      findings.push({ level, code: "script-lang-unsupported", message: `This block is ${block.language}, which migrate does not read: a socket or send in it is left as it is. Route it by hand, or write the block in TypeScript or JavaScript and run migrate again.`, location: at(block) });
    }
    return blocks.map((block, index) => {
      const file = `${source.file}.${index}.${block.extension}`;
      components.set(file, { component: source.file, text: source.text, block });
      return { file, text: source.text.slice(block.start, block.end) };
    });
  });
  return { sources: expanded, components, findings };
}

/** A finding in a block's virtual file, placed in its component: a block's first line starts at the block's column. */
export function locateInComponent(components: ComponentMap, finding: Finding): Finding {
  const location = finding.location;
  const virtual = location && components.get(location.file);
  if (!location || !virtual) return finding;
  const { line = 1, col = 1 } = location;
  const { block } = virtual;
  return { ...finding, location: { file: virtual.component, line: block.line + line - 1, col: line === 1 ? block.col + col - 1 : col } };
}

/** Changes to blocks joined into one change per component: each block's new text in its place, every byte around it kept. */
export function joinComponentChanges(components: ComponentMap, changes: ClientFileChange[]): ClientFileChange[] {
  const joined = new Map<string, ClientFileChange>();
  const edits = new Map<string, { at: number; end: number; insert: string }[]>();
  const result: ClientFileChange[] = [];
  for (const change of changes) {
    const virtual = components.get(change.file);
    if (!virtual) {
      result.push(change);
      continue;
    }
    if (!joined.has(virtual.component)) {
      const entry = { file: virtual.component, before: virtual.text, after: virtual.text };
      joined.set(virtual.component, entry);
      result.push(entry);
    }
    edits.set(virtual.component, [...(edits.get(virtual.component) ?? []), { at: virtual.block.start, end: virtual.block.end, insert: change.after }]);
  }
  for (const [component, blockEdits] of edits) joined.get(component)!.after = applyEdits(joined.get(component)!.before, blockEdits);
  return result;
}

/**
 * `socket.send(…)` outside the block that binds `socket` to a routed socket: in the component's
 * markup (an event handler), or in its other block (Vue's `<script setup>` sees its `<script>`,
 * Svelte's instance script its module script). Each block is read alone and markup not at all,
 * so each such send is a manual step. Only those names are looked for, and a block that binds
 * the name itself is left to its own analysis.
 */
export function sendsOutsideBlock(components: ComponentMap, routedSockets: { file: string; name: string }[]): Finding[] {
  const findings: Finding[] = [];
  for (const { file, name } of routedSockets) {
    const home = components.get(file);
    if (!home) continue;
    const blocks = [...components.values()].filter((virtual) => virtual.component === home.component).map((virtual) => virtual.block);
    const binds = new RegExp(`\\b(?:const|let|var|function|class|import)\\b[^;=]*?(?<![\\w$])${escapeRegExp(name)}(?![\\w$])`);
    const send = new RegExp(`(?<![\\w$.])${escapeRegExp(name)}\\s*\\??\\.\\s*send\\s*\\(`, "g");
    for (const match of home.text.matchAll(send)) {
      const block = blocks.find((candidate) => match.index >= candidate.start && match.index < candidate.end);
      if (block === home.block || (block && binds.test(home.text.slice(block.start, block.end)))) continue;
      const where = block ? "in another script block" : "in the markup";
      findings.push({ level: "manual", code: "send-outside-block", message: `\`${name}.send\` ${where} is not routed: migrate rewrites each socket's own block only. Send with sendViaRouter(${name}, payload) from the block that makes the socket.`, location: { file: home.component, ...lineAndCol(home.text, match.index) } });
    }
  }
  // A socket bound twice under one name (in two functions) is looked for twice: each send is said once.
  return findings.filter((finding, index) => findings.findIndex((other) => other.location!.line === finding.location!.line && other.location!.col === finding.location!.col && other.location!.file === finding.location!.file) === index);
}

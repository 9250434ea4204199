import { createHash } from "node:crypto";
import type { PackageFiles } from "./package-info.js";

const CHECKSUM_LINE = /\r?\n\/\/ party-shard checksum: ([0-9a-f]{16})\r?\n$/;

/**
 * Renders `templates/<name>.tpl`, replacing each `{{key}}` with `values[key]`, and ends the file
 * with a checksum of itself, so a later run can tell an untouched file from an edited one. A
 * placeholder without a value, or a value without a placeholder, is a bug in party-shard and throws.
 */
export function renderTemplate(own: PackageFiles, name: string, values: Record<string, string | number>): string {
  const template = own.template(name);
  const unused = new Set(Object.keys(values));
  const rendered = template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`Template ${name} needs a value for {{${key}}}`);
    unused.delete(key);
    return String(value);
  });
  if (unused.size > 0) throw new Error(`Template ${name} has no {{${[...unused].join("}}, {{")}}}`);
  return sealGenerated(rendered);
}

/** A generated file's text, ended with a checksum of itself. */
export function sealGenerated(text: string): string {
  return `${text}\n// party-shard checksum: ${checksum(text)}\n`;
}

/**
 * Whether a generated file was edited since party-shard wrote it. Files written before the
 * checksum existed (party-shard 0.1) have none and count as untouched: they said not to edit them.
 */
export function editedSinceGenerated(text: string): boolean {
  const match = CHECKSUM_LINE.exec(text);
  if (!match) return /\/\/ party-shard checksum:/.test(text);
  return checksum(text.slice(0, match.index)) !== match[1];
}

function checksum(text: string): string {
  // Line endings may be rewritten by git (autocrlf); that is not an edit.
  return createHash("sha256").update(text.replaceAll("\r\n", "\n")).digest("hex").slice(0, 16);
}

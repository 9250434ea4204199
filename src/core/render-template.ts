import { readFileSync } from "node:fs";

const TEMPLATES_DIR = new URL("../../templates/", import.meta.url);

/**
 * Renders `templates/<name>.tpl`, replacing each `{{key}}` with `values[key]`. A placeholder
 * without a value, or a value without a placeholder, is a bug in party-shard and throws.
 */
export function renderTemplate(name: string, values: Record<string, string | number>): string {
  const template = readFileSync(new URL(`${name}.tpl`, TEMPLATES_DIR), "utf8");
  const unused = new Set(Object.keys(values));
  const rendered = template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`Template ${name} needs a value for {{${key}}}`);
    unused.delete(key);
    return String(value);
  });
  if (unused.size > 0) throw new Error(`Template ${name} has no {{${[...unused].join("}}, {{")}}}`);
  return rendered;
}

/**
 * What each line of a TOML file declares, read without a full parser (smol-toml gives data
 * but no positions): a `[table]` or `[[array.of.tables]]` header, or a `key = value`, with the
 * full key path it sets. Lines inside multi-line strings and arrays are skipped.
 */
export interface TomlLine {
  /** 1-based. */
  line: number;
  kind: "table" | "array-table" | "key";
  /** The absolute key path: a header's own path, or a key's table path plus its dotted key. */
  path: string[];
  /** For a key: its value starts with `{` or `[` (an inline table or array). */
  inline?: boolean;
  /** For a key: the offset in the text where its value starts. */
  value?: number;
}

const KEY_PART = /\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*/y;

export function scanTomlLines(text: string): TomlLine[] {
  const lines: TomlLine[] = [];
  let table: string[] = [];
  let open: string | undefined; // the closing delimiter of a multi-line string we are inside
  let depth = 0; // brackets still open from a multi-line array or inline table
  let offset = 0; // where the line starts in the text
  text.split("\n").forEach((line, index) => {
    const start = offset;
    offset += line.length + 1;
    const raw = line.replace(/\r$/, "");
    const code = stripComment(raw);
    if (open) {
      if (raw.includes(open)) open = undefined;
      return;
    }
    if (depth > 0) {
      depth = Math.max(0, depth + bracketBalance(code));
      return;
    }
    const header = /^\s*(\[\[?)(.*?)(\]\]?)\s*$/.exec(code);
    if (header) {
      const path = keyPath(header[2]!);
      if (!path) return;
      table = path;
      lines.push({ line: index + 1, kind: header[1] === "[[" ? "array-table" : "table", path });
      return;
    }
    const equals = splitKey(code);
    if (!equals) return;
    const value = equals.value.trimStart();
    lines.push({ line: index + 1, kind: "key", path: [...table, ...equals.key], inline: value.startsWith("{") || value.startsWith("["), value: start + code.length - value.length });
    const multiline = /^("""|''')/.exec(value);
    if (multiline && !value.slice(3).includes(multiline[1]!)) open = multiline[1];
    else depth = Math.max(0, bracketBalance(value));
  });
  return lines;
}

/** The key path written in `text`, or undefined when it is not one. */
function keyPath(text: string): string[] | undefined {
  const key = readKeyPath(text, 0);
  return key?.end === text.length ? key.path : undefined;
}

/** The key path (`a."b c".d`, spaces around its parts) written from `at` on, and where it ends; undefined when none is. */
export function readKeyPath(text: string, at: number): { path: string[]; end: number } | undefined {
  const path: string[] = [];
  KEY_PART.lastIndex = at;
  for (;;) {
    const start = KEY_PART.lastIndex;
    const match = KEY_PART.exec(text);
    if (!match || KEY_PART.lastIndex === start) return undefined;
    path.push(match[1] ?? unescape(match[2]) ?? match[3]!);
    if (text[KEY_PART.lastIndex] !== ".") return { path, end: KEY_PART.lastIndex };
    KEY_PART.lastIndex++;
  }
}

/** A key written as TOML writes it: bare when it can be, else quoted. */
export function tomlKey(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : JSON.stringify(name);
}

function unescape(quoted: string | undefined): string | undefined {
  if (quoted === undefined) return undefined;
  try {
    return JSON.parse(`"${quoted}"`) as string;
  } catch {
    return quoted;
  }
}

function splitKey(code: string): { key: string[]; value: string } | undefined {
  // The first `=` outside quotes ends the key.
  for (const [i, char] of outsideStrings(code)) {
    if (char !== "=") continue;
    const key = keyPath(code.slice(0, i));
    return key ? { key, value: code.slice(i + 1) } : undefined;
  }
  return undefined;
}

/** `[`/`{` minus `]`/`}` outside strings. */
function bracketBalance(code: string): number {
  let balance = 0;
  for (const [, char] of outsideStrings(code)) {
    if (char === "[" || char === "{") balance++;
    else if (char === "]" || char === "}") balance--;
  }
  return balance;
}

/** The line without a trailing `# comment` (a `#` inside a string stays). */
function stripComment(line: string): string {
  for (const [i, char] of outsideStrings(line)) if (char === "#") return line.slice(0, i);
  return line;
}

/** Each character of a line that is not inside a TOML string (basic `"…"` with escapes, or literal `'…'`), with its index. */
function* outsideStrings(code: string): Generator<[number, string]> {
  let quote: string | undefined;
  for (let i = 0; i < code.length; i++) {
    const char = code[i]!;
    if (quote) {
      if (char === "\\" && quote === '"') i++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") quote = char;
    else yield [i, char];
  }
}

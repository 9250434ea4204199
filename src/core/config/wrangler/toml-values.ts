import { readKeyPath } from "./toml-lines.js";

/** Where a TOML value is written: offsets into the text, `end` just past it. */
interface Span {
  start: number;
  end: number;
}

/** An inline array or table, its elements in order, and the end of a comma after the last one. */
export type TomlValue =
  | (Span & { kind: "array"; items: TomlValue[]; trailingComma?: number })
  | (Span & { kind: "table"; entries: { key: string[]; value: TomlValue }[]; trailingComma?: number })
  | (Span & { kind: "scalar" });

/**
 * The value written at `at` in a TOML text smol-toml has parsed, read far enough to edit inline
 * arrays and tables in place: their brackets, elements, commas and comments (TOML 1.1's
 * multi-line inline tables too). Undefined when the text there is not such a value.
 */
export function readTomlValue(text: string, at: number): TomlValue | undefined {
  try {
    return new ValueReader(text, at).value();
  } catch (error) {
    if (error instanceof Unreadable) return undefined;
    throw error;
  }
}

class Unreadable extends Error {}

class ValueReader {
  constructor(
    private readonly text: string,
    private at: number,
  ) {}

  value(): TomlValue {
    const start = this.at;
    const char = this.text[start];
    if (char === "[") return this.list(start);
    if (char === "{") return this.table(start);
    if (char === '"' || char === "'") return { kind: "scalar", start, end: this.string(char) };
    // Numbers, booleans, dates: up to what ends a value.
    const scalar = /^[^,\]}\r\n#]*/.exec(this.text.slice(start))![0].trimEnd();
    if (scalar === "") throw new Unreadable();
    this.at = start + scalar.length;
    return { kind: "scalar", start, end: this.at };
  }

  private list(start: number): TomlValue {
    const items: TomlValue[] = [];
    const trailingComma = this.elements("]", () => items.push(this.value()));
    return { kind: "array", start, end: this.at, items, ...(trailingComma ? { trailingComma } : {}) };
  }

  private table(start: number): TomlValue {
    const entries: { key: string[]; value: TomlValue }[] = [];
    const trailingComma = this.elements("}", () => {
      const key = readKeyPath(this.text, this.at);
      if (!key || this.text[key.end] !== "=") throw new Unreadable();
      this.at = key.end + 1;
      this.skip();
      entries.push({ key: key.path, value: this.value() });
    });
    return { kind: "table", start, end: this.at, entries, ...(trailingComma ? { trailingComma } : {}) };
  }

  /** Reads `element`s separated by commas up to `close`; returns the end of a comma after the last one. */
  private elements(close: string, element: () => void): number | undefined {
    this.at++;
    let comma: number | undefined;
    for (;;) {
      this.skip();
      if (this.text[this.at] === close) {
        this.at++;
        return comma;
      }
      if (this.at >= this.text.length) throw new Unreadable();
      element();
      this.skip();
      comma = this.text[this.at] === "," ? ++this.at : undefined;
      if (comma === undefined && this.text[this.at] !== close) throw new Unreadable();
    }
  }

  /** White space, line breaks and comments between elements. */
  private skip(): void {
    this.at += /^(?:\s|#[^\n]*)*/.exec(this.text.slice(this.at))![0].length;
  }

  /** Past the string opening at `this.at` (basic or literal, one line or three quotes). */
  private string(quote: string): number {
    const triple = quote.repeat(3);
    const multiline = this.text.startsWith(triple, this.at);
    let i = this.at + (multiline ? 3 : 1);
    for (; i < this.text.length; i++) {
      if (quote === '"' && this.text[i] === "\\") i++;
      else if (multiline ? this.text.startsWith(triple, i) : this.text[i] === quote) {
        // A closing `"""` may follow up to two quotes that belong to the string.
        let end = i + (multiline ? 3 : 1);
        while (multiline && this.text[end] === quote && end - i < 5) end++;
        this.at = end;
        return end;
      }
    }
    throw new Unreadable();
  }
}

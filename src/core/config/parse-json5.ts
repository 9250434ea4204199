import JSON5 from "json5";
import { PartyShardError } from "../../errors.js";

/** Parses a JSON, JSONC or JSON5 config; a syntax error is bad input at its line and column, `subject` naming what failed. */
export function parseJson5(text: string, file: string, subject: string): unknown {
  try {
    return JSON5.parse(text);
  } catch (error) {
    const { lineNumber, columnNumber, message } = error as SyntaxError & { lineNumber?: number; columnNumber?: number };
    const reason = message.replace(/^JSON5: /, "").replace(/ at \d+:\d+$/, "");
    throw new PartyShardError(`${subject} does not parse: ${reason}.`, { location: { file, line: lineNumber, col: columnNumber } });
  }
}

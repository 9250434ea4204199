import picocolors from "picocolors";

export type Colors = ReturnType<typeof picocolors.createColors>;

/** Colours for each stream, decided once per run. */
export interface Palette {
  stdout: Colors;
  stderr: Colors;
}

/**
 * Whether text written to `stream` may be coloured. `--no-color` and NO_COLOR (any value) win;
 * then FORCE_COLOR (0/false off; 1, 2, 3, true or empty on); otherwise only a terminal, and not
 * TERM=dumb. Unlike picocolors' own check, CI alone never turns colour on: CI logs are pipes.
 */
export function colourEnabled(stream: { isTTY?: boolean }, noColorFlag = false, env: NodeJS.ProcessEnv = process.env): boolean {
  if (noColorFlag || env.NO_COLOR) return false;
  const force = env.FORCE_COLOR?.toLowerCase();
  if (force === "0" || force === "false") return false;
  if (force !== undefined && /^(|1|2|3|true)$/.test(force)) return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

export function decidePalette(noColorFlag = false, env: NodeJS.ProcessEnv = process.env): Palette {
  return {
    stdout: picocolors.createColors(colourEnabled(process.stdout, noColorFlag, env)),
    stderr: picocolors.createColors(colourEnabled(process.stderr, noColorFlag, env)),
  };
}

/**
 * @clack/prompts colours through node:util `styleText`, which reads NO_COLOR and FORCE_COLOR
 * when it is called and knows nothing of `--no-color`: once colour is off, say so the same way.
 */
export function turnOffLibraryColour(env: NodeJS.ProcessEnv = process.env): void {
  env.NO_COLOR = "1";
  delete env.FORCE_COLOR;
}

/** Removes colour and style codes (SGR), keeping other terminal controls such as erasing a line. */
export function stripColour(text: string): string {
  return text.replace(/\x1b\[[\d;]*m/g, "");
}

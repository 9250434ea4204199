/** What a long step is doing, on one terminal line rewritten in place. */
export interface StatusLine {
  show(text: string): void;
  /** Leaves `text` as the line's last word, and moves on. */
  end(text: string): void;
}

/**
 * Unlike clack's spinner, this leaves stdin alone: the spinner puts the terminal in raw mode,
 * where Ctrl-C is a key it answers with `process.exit(0)` instead of a SIGINT, so the command
 * could neither clean up nor exit 130.
 */
export function createStatusLine(stream: Pick<NodeJS.WriteStream, "write">): StatusLine {
  return {
    show: (text) => stream.write(`\r\x1b[2K${text}`),
    end: (text) => stream.write(`\r\x1b[2K${text}\n`),
  };
}

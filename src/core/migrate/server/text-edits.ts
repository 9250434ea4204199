import type { SourceFile } from "ts-morph";

/** Replace `[start, end)` of the file's text with `text`; an insertion has start === end. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/**
 * Applies edits all measured on the file's current text, back to front, in one replacement:
 * ts-morph forgets every node on each text edit, so edits made one by one could not be measured first.
 */
export function applyTextEdits(file: SourceFile, edits: TextEdit[]): void {
  if (edits.length === 0) return;
  let text = file.getFullText();
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) {
    text = text.slice(0, edit.start) + edit.text + text.slice(edit.end);
  }
  file.replaceWithText(text);
}

/** Where the whitespace before `position` starts, so removing from there leaves no blank line behind. */
export function startOfSpaceBefore(text: string, position: number): number {
  let start = position;
  while (start > 0 && /\s/.test(text[start - 1]!)) start--;
  return start;
}

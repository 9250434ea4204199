import type * as Y from "yjs";
import WebSocket from "ws";
import { waitFor } from "./wait.js";

/**
 * Editors of the Yjs fixture apps, shared by the live Yjs suites: each app's `app/editor.ts`
 * exports `openEditor` (the migrated copy has the same API, its provider routed).
 */
export interface EditorModule {
  openEditor(host: string, room: string, WebSocketPolyfill: unknown): Editor;
}
export interface Editor {
  doc: Y.Doc;
  text: Y.Text;
  provider: {
    synced: boolean;
    wsconnected: boolean;
    awareness: { clientID: number; setLocalStateField(field: string, value: unknown): void; getStates(): Map<number, Record<string, unknown>>; destroy(): void };
    destroy(): void;
  };
}

/** Opens an editor of `room` on `host` with the `ws` package and waits until its provider synced. */
export async function openSynced(module: EditorModule, host: string, room: string, timeoutMs?: number): Promise<Editor> {
  const editor = module.openEditor(host, room, WebSocket);
  await waitFor("the provider to sync", () => editor.provider.synced, () => `connected: ${editor.provider.wsconnected}`, timeoutMs);
  return editor;
}

const closed = new WeakSet<Editor>();

/** Closes the editor's socket and stops its awareness timer (the provider leaves that to its owner); once. */
export function closeEditor(editor: Editor): void {
  if (closed.has(editor)) return;
  closed.add(editor);
  editor.provider.destroy();
  editor.provider.awareness.destroy();
}

/** The names of the cursors (awareness field `cursor`) an editor sees, its own included, sorted. */
export function cursorNames(editor: Editor): string[] {
  return [...editor.provider.awareness.getStates().values()]
    .map((state) => (state["cursor"] as { name?: string } | undefined)?.name)
    .filter((name): name is string => typeof name === "string")
    .sort();
}

/** Whether every editor of `group` holds the same text, of `length` characters. */
export function converged(group: Editor[], length: number): () => boolean {
  return () => group.every((editor) => editor.text.length === length && editor.text.toString() === group[0]!.text.toString());
}

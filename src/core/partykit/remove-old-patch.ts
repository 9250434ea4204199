import { Node, SyntaxKind, type CallExpression, type SourceFile } from "ts-morph";
import type { Edit } from "../text-edits.js";

/** What earlier party-shard versions called from the glue, when every shard ran the party. */
export const OLD_CALLS = new Set(["routedWrite", "baseRoomId"]);

/**
 * Undoes what an earlier migrate added to the party: the two lines it put first in onRequest,
 * or the whole onRequest it added. `baseRoomId(room)` becomes `room.id`, since the party now runs
 * in the room itself. The `async` and `Promise<…>` it gave onRequest stay: they are harmless.
 * Returns the edits; calls it does not recognise are left for `oldCalls` to report.
 */
export function removeOldPatch(file: SourceFile): Edit[] {
  const edits: Edit[] = [];
  for (const call of oldCalls(file)) {
    const room = call.getArguments()[0];
    if (call.getExpression().getText() === "baseRoomId") {
      if (room) edits.push({ at: call.getStart(), end: call.getEnd(), insert: `${Node.isLeftHandSideExpression(room) ? room.getText() : `(${room.getText()})`}.id` });
    } else {
      const added = addedAround(call);
      if (added) edits.push({ at: added.start, end: added.end, insert: "" });
    }
  }
  return edits;
}

/** Calls to what the glue no longer exports: after removeOldPatch, the ones it did not recognise. */
export function oldCalls(file: SourceFile): CallExpression[] {
  return file.getDescendantsOfKind(SyntaxKind.CallExpression).filter((call) => OLD_CALLS.has(call.getExpression().getText()));
}

/**
 * The text the old patch wrote around its `routedWrite` call: `const routed = await routedWrite(…);`
 * followed by `if (routed) return routed;`, or an onRequest that only
 * `return (await routedWrite(…)) ?? new Response(…);`.
 */
function addedAround(call: CallExpression): { start: number; end: number } | undefined {
  const text = call.getSourceFile().getFullText();
  const awaited = call.getParentIfKind(SyntaxKind.AwaitExpression);
  const declaration = awaited?.getParentIfKind(SyntaxKind.VariableDeclaration);
  if (declaration) {
    const first = declaration.getVariableStatement();
    const second = first?.getNextSiblingIfKind(SyntaxKind.IfStatement);
    const name = declaration.getName();
    const returnsIt = second?.getExpression().getText() === name && second.getThenStatement().getText().replace(/;$/, "") === `return ${name}`;
    return first && second && returnsIt ? { start: startOfSpaceBefore(text, first.getStart()), end: second.getEnd() } : undefined;
  }
  const method = awaited
    ?.getParentIfKind(SyntaxKind.ParenthesizedExpression)
    ?.getParentIfKind(SyntaxKind.BinaryExpression)
    ?.getParentIfKind(SyntaxKind.ReturnStatement)
    ?.getParentIfKind(SyntaxKind.Block)
    ?.getParentIfKind(SyntaxKind.MethodDeclaration);
  if (method?.getName() !== "onRequest" || method.getStatements().length !== 1) return undefined;
  const start = startOfSpaceBefore(text, method.getStart());
  if (!Node.isObjectLiteralExpression(method.getParent())) return { start, end: method.getEnd() };
  // In an object, one comma goes with it: the one after it, or else the one before.
  const comma = method.getNextSiblingIfKind(SyntaxKind.CommaToken);
  if (comma) return { start, end: comma.getEnd() };
  return { start: text[start - 1] === "," ? start - 1 : start, end: method.getEnd() };
}

/** Where the whitespace before `position` starts, so removing from there leaves no blank line behind. */
function startOfSpaceBefore(text: string, position: number): number {
  let start = position;
  while (start > 0 && /\s/.test(text[start - 1]!)) start--;
  return start;
}

import { ts, type Node, type SourceFile } from "ts-morph";

/**
 * The nodes of `file` that `keep` accepts, in source order. The walk is over the compiler's
 * tree, and only kept nodes are wrapped as ts-morph nodes: getDescendantsOfKind wraps every
 * node of a kind, which on a large project costs more than the analysis itself.
 */
export function findNodes<T extends Node = Node>(file: SourceFile, keep: (node: ts.Node) => boolean): T[] {
  const kept: ts.Node[] = [];
  const visit = (node: ts.Node) => {
    if (keep(node)) kept.push(node);
    ts.forEachChild(node, visit);
  };
  ts.forEachChild(file.compilerNode, visit);
  return kept.map((node) => wrapCompilerNode(file, node) as T);
}

/**
 * The ts-morph node for a compiler node: the same object getDescendantsOfKind would give. Found
 * by walking down its ancestors, which wraps only their children; getDescendantAtStartWithWidth
 * would wrap every token on the way and throw the wrappers away after.
 */
function wrapCompilerNode(file: SourceFile, node: ts.Node): Node {
  const ancestry: ts.Node[] = [];
  for (let current: ts.Node | undefined = node; current && current !== file.compilerNode; current = current.parent) ancestry.unshift(current);
  let wrapped: Node = file;
  for (const step of ancestry) {
    const child = wrapped.forEachChild((candidate) => (candidate.compilerNode === step ? candidate : undefined));
    if (!child) throw new Error(`No ts-morph node for ${ts.SyntaxKind[node.kind]} in ${file.getFilePath()}`);
    wrapped = child;
  }
  return wrapped;
}

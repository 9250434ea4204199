import path from "node:path";
import type { ClassDeclaration, SourceFile } from "ts-morph";
import { PartyShardError } from "../../errors.js";
import type { DurableBinding, LoadedWrangler } from "../config/wrangler/loaded-wrangler.js";
import { kebab, ROUTER_BINDING } from "../config/wrangler/names.js";
import { exportedClasses, PARTYSERVER, serverLineage, socketHandlersOf, SOCKET_HANDLERS, Y_PARTYSERVER } from "./server-class.js";
import type { WorkerSources } from "./worker-sources.js";

/** The Durable Object class init shards: its binding, its declaration and the file it is in. */
export interface ChosenClass {
  binding: DurableBinding;
  cls: ClassDeclaration;
  /** Root-relative path of the class's source file. */
  file: string;
}

type Verdict = { chosen: ChosenClass } | { binding: DurableBinding; reason: string };

/**
 * Resolves `--party` on a PartyServer project: a binding's name (`Chat`), its URL name (`chat`)
 * or the file its class is in. Candidates are the bindings whose class the Worker's main exports
 * and that extend partyserver's Server with socket handlers, or y-partyserver's YServer or
 * withYjs(Server) (which have them). Without `--party` the one candidate is chosen; none or
 * several stop init (exit 2), listing them and why the others were left out.
 */
export function chooseClass(loaded: LoadedWrangler, sources: WorkerSources, option: string | undefined): ChosenClass {
  const verdicts = judgeBindings(loaded, sources);
  const chosen = verdicts.flatMap((verdict) => ("chosen" in verdict ? [verdict.chosen] : []));
  if (option !== undefined) {
    const matches = verdicts.filter((verdict) => matchesOption(verdict, option, loaded.root));
    const match = matches.find((verdict) => "chosen" in verdict) ?? matches[0];
    if (match && "chosen" in match) return match.chosen;
    if (match) throw new PartyShardError(`--party ${option}: the binding ${match.binding.name} cannot be sharded: ${match.reason}.`, { location: at(loaded, match.binding), hint: hint(chosen) });
    const what = /[./\\]/.test(option) ? "the file of a class that can be sharded" : "a Durable Object binding";
    throw new PartyShardError(`--party ${option} is not ${what} in ${loaded.file} (it has: ${loaded.bindings.map((binding) => binding.name).join(", ") || "none"}).`, {
      location: { file: loaded.file },
      hint: "Pass a binding's name (Chat), its URL name (chat) or the file its class is in.",
    });
  }
  if (chosen.length === 1) return chosen[0]!;
  const listed = [
    ...chosen.map((candidate) => `  ${candidate.binding.name} (${candidate.file}, /parties/${kebab(candidate.binding.name)}/)`),
    ...verdicts.flatMap((verdict) => ("reason" in verdict ? [`  ${verdict.binding.name}: left out, ${verdict.reason}`] : [])),
  ];
  const what = chosen.length === 0 ? `No Durable Object class in ${loaded.file} can be sharded` : `Several Durable Object classes in ${loaded.file} can be sharded`;
  throw new PartyShardError(`${what}:\n${listed.join("\n") || "  (no durable_objects bindings)"}`, {
    location: { file: loaded.file },
    hint: hint(chosen),
  });
}

/** The classes init could shard, for a question when there are several. */
export function classCandidates(loaded: LoadedWrangler, sources: WorkerSources): ChosenClass[] {
  return judgeBindings(loaded, sources).flatMap((verdict) => ("chosen" in verdict ? [verdict.chosen] : []));
}

function judgeBindings(loaded: LoadedWrangler, sources: WorkerSources): Verdict[] {
  return loaded.bindings.filter((binding) => binding.name !== ROUTER_BINDING && binding.className !== ROUTER_BINDING).map((binding) => judge(binding, sources, loaded.main));
}

function judge(binding: DurableBinding, sources: WorkerSources, main: string): Verdict {
  if (binding.scriptName) return { binding, reason: `bound to another Worker (script_name ${binding.scriptName})` };
  const cls = exportedClasses(sources.main).get(binding.className);
  if (!cls) return { binding, reason: libraryClassReason(sources.main, binding.className, main) ?? `class ${binding.className} is not found among the classes ${main} exports` };
  const lineage = serverLineage(cls);
  if (!lineage.extendsServer) return { binding, reason: `class ${binding.className} does not extend Server from "partyserver" (nor YServer or withYjs(Server) from "y-partyserver")` };
  if (socketHandlersOf(cls, lineage).length === 0) return { binding, reason: `class ${binding.className} has no socket handlers (${SOCKET_HANDLERS.join(", ")})` };
  return { chosen: { binding, cls, file: sources.relative(cls.getSourceFile()) } };
}

function matchesOption(verdict: Verdict, option: string, root: string): boolean {
  const binding = "chosen" in verdict ? verdict.chosen.binding : verdict.binding;
  if (option === binding.name || option === kebab(binding.name)) return true;
  if (!("chosen" in verdict) || !/[./\\]/.test(option)) return false;
  const file = path.relative(root, path.resolve(root, option)).split(path.sep).join("/");
  return file === verdict.chosen.file;
}

/**
 * Why a binding whose class is a library's own, exported under the binding's name (`export {
 * YServer as Doc }`, as a public y-partyserver fixture does), cannot be sharded as it is, and the
 * one line that makes it a class of the user's. Undefined for any other export.
 */
function libraryClassReason(main: SourceFile, className: string, mainPath: string): string | undefined {
  for (const declaration of main.getExportDeclarations()) {
    const specifier = declaration.getNamedExports().find((each) => (each.getAliasNode() ?? each.getNameNode()).getText() === className);
    if (!specifier) continue;
    const local = specifier.getNameNode().getText();
    const library = declaration.getModuleSpecifierValue() ?? main.getImportDeclarations().find((imported) => imported.getNamedImports().some((named) => (named.getAliasNode() ?? named.getNameNode()).getText() === local))?.getModuleSpecifierValue();
    if (library !== PARTYSERVER && library !== Y_PARTYSERVER) return undefined;
    return `class ${className} is ${library}'s ${local} itself (${mainPath}:${specifier.getStartLineNumber()} exports it as it is), and migrate shards a class of yours: in place of that export, declare \`export class ${className} extends ${local} {}\` and run init again`;
  }
  return undefined;
}

const at = (loaded: LoadedWrangler, binding: DurableBinding) => ({ file: loaded.file, ...(binding.line ? { line: binding.line } : {}) });

const hint = (chosen: ChosenClass[]) => (chosen.length > 0 ? `Pick one with --party, e.g. --party ${chosen[0]!.binding.name}` : "Bind a class that extends Server from \"partyserver\" and has onConnect, onMessage or onClose (or extends YServer or withYjs(Server) from \"y-partyserver\"), and export it from the Worker's main.");

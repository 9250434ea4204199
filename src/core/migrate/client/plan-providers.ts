import { Node, type ObjectLiteralExpression, type SourceFile } from "ts-morph";
import { detectCodeStyle } from "../../code-style.js";
import { findingAt, type Finding } from "../../findings.js";
import { insertPropertyEdits, trailingComma, type Edit } from "../../text-edits.js";
import { partyReach } from "./party-name.js";
import type { ClientTarget } from "./plan-client.js";
import { providerTarget, type Provider } from "./providers.js";
import { KEY_CALL, keyConnection, routeConnection, type RoutedOptions } from "./route-connection.js";
import { renameParty } from "./url-party.js";

/** What migrate does with one provider: edits by file (the options may be a const elsewhere), and why. */
export interface ProviderWork {
  edits: { file: SourceFile; edit: Edit }[];
  /** Files whose edits call shardKey, and so import it. */
  keyed: SourceFile[];
  finding?: Finding;
}

const PARAMS = "params";

/**
 * Routes a Yjs provider that reaches the sharded party through the router, as a PartySocket is
 * routed: its party becomes the router's (`party: "router"`, or the party's name in its prefix,
 * `/parties/main/…` → `/parties/router/…`) and its connect query gets a write key
 * (`params: shardKey(params)`), so that its id stays its own. A provider already on the router
 * gets its key; one to another party is left alone; one migrate cannot read is a manual step.
 */
export function planProvider(provider: Provider, target: ClientTarget): ProviderWork {
  const file = provider.call.getSourceFile();
  const at = (level: "info" | "manual", code: "provider-routed" | "provider-keyed" | "provider-not-routed", message: string) => findingAt(file, provider.call, level, code, message);
  const where = providerTarget(provider);
  if (!where) return { edits: [], keyed: [], finding: at("manual", "provider-not-routed", `This provider's options are a value migrate cannot read or edit (${unreadable(provider)}). If it connects to party "${target.shardedParty}", ${routeStep(provider, target)}`) };

  if (where.by === "prefix") {
    const { url } = where;
    if (!url) return { edits: [], keyed: [], finding: at("manual", "provider-not-routed", `This provider connects to its prefix \`${where.property.getText()}\`, in which migrate reads no /parties/<party>/. If it reaches party "${target.shardedParty}", make it /parties/${target.routerParty}/<room> and give it ${PARAMS}: ${KEY_CALL}(…).`) };
    const reach = partyReach(url.party, target);
    if (reach === "other") return { edits: [], keyed: [] };
    if (url.party.kind === "dynamic") return { edits: [], keyed: [], finding: at("manual", "provider-not-routed", `This provider's prefix names its party with ${url.party.reason}; migrate cannot tell whether it is "${target.shardedParty}". If it is, make it /parties/${target.routerParty}/<room> and give it ${PARAMS}: ${KEY_CALL}(…).`) };
    const rename = url.party.name === target.routerParty ? undefined : renameParty(url, target.routerParty);
    if (url.party.name !== target.routerParty && !rename) {
      return { edits: [], keyed: [], finding: at("manual", "provider-not-routed", `This provider's prefix reaches /parties/${target.shardedParty}/, but the party's name is not written in the prefix itself (it comes from a variable other code may read). Make the prefix /parties/${target.routerParty}/<room> and give the provider ${PARAMS}: ${KEY_CALL}(…).`) };
    }
    const key = keyOptions(provider, where.property);
    const edits = [...(rename ? [{ file: where.property.getSourceFile(), edit: rename }] : []), ...key.edits];
    return done(provider, target, { edits, keyed: key.keyed }, rename !== undefined, at);
  }

  const { party } = where;
  const reach = partyReach(party, target);
  if (reach === "other") {
    if (!(target.noMainParty && party.kind === "literal" && party.name === "main")) return { edits: [], keyed: [] };
    const message = `This provider connects to party "main" (/parties/main/), which PartyServer does not have: the Worker answers 400. Left as it is; if it is meant for the sharded class, set party: "${target.shardedParty}" and run migrate again.`;
    return { edits: [], keyed: [], finding: findingAt(file, provider.call, "warning", "socket-main-party", message) };
  }
  if (party.kind === "dynamic") {
    return { edits: [], keyed: [], finding: at("manual", "provider-not-routed", `This provider's party is ${party.reason}; migrate cannot tell whether it is "${target.shardedParty}". If it is, ${routeStep(provider, target)}`) };
  }
  if (party.name === target.routerParty) {
    const key = keyOptions(provider, where.property);
    return done(provider, target, { edits: key.edits, keyed: key.keyed }, false, at);
  }
  return done(provider, target, routeByParty(provider, target.routerParty, where.property), true, at);
}

type Located = { edits: { file: SourceFile; edit: Edit }[]; keyed: boolean };

function done(provider: Provider, target: ClientTarget, work: Located, routed: boolean, at: (level: "info", code: "provider-routed" | "provider-keyed", message: string) => Finding): ProviderWork {
  const keyed = work.keyed ? [...new Set(work.edits.filter(({ edit }) => edit.insert?.includes(`${KEY_CALL}(`)).map(({ file }) => file))] : [];
  if (routed) {
    const key = work.keyed ? ` with a write key (${PARAMS}: ${KEY_CALL}(…))` : ` (no write key: its ${PARAMS} may come from a spread)`;
    return { edits: work.edits, keyed, finding: at("info", "provider-routed", `Connects through the "${target.routerParty}" router${key}.`) };
  }
  if (!work.keyed) return { edits: work.edits, keyed };
  return { edits: work.edits, keyed, finding: at("info", "provider-keyed", `Gets a write key (${PARAMS}: ${KEY_CALL}(…)) on the router it already connects through.`) };
}

/** The party's name replaced by the router's where the party is set, or added where the provider reads it; the key beside. */
function routeByParty(provider: Provider, routerParty: string, property: Node | undefined): Located {
  const { options, outer } = provider;
  // The party in the options (or no options' party anywhere, for the class): as a PartySocket's options are routed.
  if (typeof options === "object" && (property === undefined ? provider.kind === "class" : property.getParent() === options)) {
    return located(options, routeConnection(options, routerParty, PARAMS));
  }
  if (provider.kind === "class") return { edits: [newArgument(provider, `party: ${quoted(provider, routerParty)}, ${PARAMS}: ${KEY_CALL}()`)], keyed: true };
  // The hook's own party, set or not: the key goes in its options.
  const hook = outer!;
  const edits: { file: SourceFile; edit: Edit }[] = [];
  const add: string[] = [];
  if (Node.isPropertyAssignment(property)) {
    const value = property.getInitializerOrThrow();
    edits.push({ file: hook.getSourceFile(), edit: { at: value.getStart(), end: value.getEnd(), insert: quoted(provider, routerParty) } });
  } else if (property) {
    edits.push({ file: hook.getSourceFile(), edit: { at: property.getStart(), end: property.getEnd(), insert: `party: ${quoted(provider, routerParty)}` } });
  } else {
    add.push(`party: ${quoted(provider, routerParty)}`);
  }
  const key = typeof options === "object" ? located(options, keyConnection(options, PARAMS, undefined)) : { edits: [], keyed: true };
  if (typeof options !== "object") add.push(`options: { ${PARAMS}: ${KEY_CALL}() }`);
  return { edits: [...edits, ...key.edits, ...(add.length > 0 ? addProperties(hook, add) : [])], keyed: key.keyed };
}

/** The key alone, for a provider whose party is routed already (or by its prefix): in its options, made if need be. */
function keyOptions(provider: Provider, after: Node | undefined): Located {
  const { options, outer } = provider;
  if (typeof options === "object") return located(options, keyConnection(options, PARAMS, after?.getParent() === options ? after : undefined));
  if (provider.kind === "class") return { edits: [newArgument(provider, `${PARAMS}: ${KEY_CALL}()`)], keyed: true };
  return { edits: addProperties(outer!, [`options: { ${PARAMS}: ${KEY_CALL}() }`]), keyed: true };
}

function located(options: ObjectLiteralExpression, routed: RoutedOptions): Located {
  return { edits: routed.edits.map((edit) => ({ file: options.getSourceFile(), edit })), keyed: routed.keyed };
}

/** `new YPartyKitProvider(host, room, doc)` → `new YPartyKitProvider(host, room, doc, { … })` (`undefined` for a doc left out). */
function newArgument(provider: Provider, properties: string): { file: SourceFile; edit: Edit } {
  const args = provider.call.getArguments();
  const last = args.at(-1)!;
  const filler = args.length < 3 ? ", undefined".repeat(3 - args.length) : "";
  return { file: provider.call.getSourceFile(), edit: { at: last.getEnd(), insert: `${filler}, { ${properties} }` } };
}

function addProperties(object: ObjectLiteralExpression, properties: string[]): { file: SourceFile; edit: Edit }[] {
  const text = object.getSourceFile().getFullText();
  const style = detectCodeStyle(text);
  const layout = { newline: style.newline, unit: style.indent, trailingCommas: trailingComma(object) !== undefined };
  const multiline = text.slice(object.getStart(), object.getEnd()).includes("\n");
  const render = (indent: string) => properties.join(multiline ? `,${style.newline}${indent}` : ", ");
  return insertPropertyEdits(text, object, render, layout).map((edit) => ({ file: object.getSourceFile(), edit }));
}

function quoted(provider: Provider, name: string): string {
  const { quote } = detectCodeStyle(provider.call.getSourceFile().getFullText());
  return `${quote}${name}${quote}`;
}

function unreadable(provider: Provider): string {
  if (provider.kind === "class") return `\`${provider.call.getArguments()[3]?.getText() ?? provider.call.getText()}\``;
  const [argument] = provider.call.getArguments();
  if (!provider.outer) return `\`${argument?.getText() ?? "(none)"}\``;
  const options = provider.outer.getProperty("options");
  return `\`${options?.getText() ?? "a spread"}\``;
}

/** The exact change for a provider migrate cannot route itself. */
function routeStep(provider: Provider, { routerParty }: ClientTarget): string {
  const key = `party: "${routerParty}", ${PARAMS}: ${KEY_CALL}(options.${PARAMS})`;
  const how =
    typeof provider.options === "object" ? `set its party to "${routerParty}" and its ${PARAMS} to ${KEY_CALL}(${PARAMS}) (${KEY_CALL}() when it has none)`
    : provider.kind === "class" ? `pass its options as { ...options, ${key} }`
    : `pass useYProvider options: { ...options, ${key} }`;
  return `connect it through the router: ${how}, with ${KEY_CALL} imported from the party-shard-client helper (the URL becomes /parties/${routerParty}/<room>, and the write key keeps its id its own).`;
}

import type { NewExpression, PropertyAccessExpression, SourceFile } from "ts-morph";
import { findingAt, type Finding } from "../../findings.js";
import type { Edit } from "../../text-edits.js";
import { partyReach, type RoutedParties } from "./party-name.js";
import { KEY_CALL } from "./route-connection.js";
import { renameParty, urlParty } from "./url-party.js";

/**
 * What migrate does with a raw WebSocket (`new WebSocket(url)`, `ws`) whose URL reaches the
 * sharded party: where the party's name is written in the URL passed, it becomes the router's
 * (`/parties/main/` → `/parties/router/`), and the socket joins a shard, which relays its sends;
 * elsewhere the manual step. No write key is added: a write must also name the connection, whose
 * id the router makes up for a socket that brings none, so a raw socket's writes stay on it.
 */
export function planRawSocket(call: NewExpression, parties: RoutedParties): { edit?: Edit; finding?: Finding } {
  const [url] = call.getArguments();
  const found = url && urlParty(url);
  if (!found) return {};
  const file = call.getSourceFile();
  const { party } = found;
  const reach = partyReach(party, parties);
  if (reach === "other" || (party.kind === "literal" && party.name === parties.routerParty)) return {};
  if (party.kind === "dynamic") {
    const message = `This WebSocket's URL names its party with ${party.reason}; migrate cannot tell whether it is "${parties.shardedParty}". If it is, ${routeStep(parties)}`;
    return { finding: findingAt(file, call, "manual", "party-unknown", message) };
  }
  const edit = renameParty(found, parties.routerParty);
  if (edit) {
    const message = `Connects through the "${parties.routerParty}" router: /parties/${parties.shardedParty}/ → /parties/${parties.routerParty}/ (its shard relays its sends).`;
    return { edit, finding: findingAt(file, call, "info", "raw-socket-routed", message) };
  }
  const message = `This WebSocket connects to /parties/${parties.shardedParty}/ directly, not through the router; migrate does not rewrite its URL because the party's name is not written in the URL passed here (it comes from a variable other code may read). To route it, ${routeStep(parties)}`;
  return { finding: findingAt(file, call, "manual", "raw-socket-direct", message) };
}

/** Whether a raw WebSocket's URL reaches the sharded party or the router, so that its sends are work left. */
export function rawSocketRouted(call: NewExpression, parties: RoutedParties): boolean {
  const [url] = call.getArguments();
  const found = url && urlParty(url);
  return found !== undefined && partyReach(found.party, parties) === "routed";
}

/** A send on such a socket: not a retried write, and migrate cannot make it one. */
export function rawSendFinding(file: SourceFile, access: PropertyAccessExpression, parties: RoutedParties): Finding {
  const message = `\`${access.getText()}\` on a raw WebSocket reaches the room through its shard, not as a retried write: sendViaRouter needs the connection id and write key a PartySocket carries in its URL. Make the socket a PartySocket on party "${parties.routerParty}" with query: ${KEY_CALL}() and migrate rewrites this send, or keep sends on their sockets with --writes socket (migrate and check).`;
  return findingAt(file, access, "manual", "raw-send", message);
}

function routeStep({ routerParty }: RoutedParties): string {
  return `connect it through the router: new PartySocket({ host, room, party: "${routerParty}", query: ${KEY_CALL}() }) (migrate then routes its sends as retried writes), or a URL on /parties/${routerParty}/<room> (its shard then relays its sends).`;
}

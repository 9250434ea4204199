/**
 * The shape of verify's probe messages, apart from the probe itself so that `--help` and flag
 * checks can use it without loading partysocket.
 *
 * What a probe message looks like when the caller does not say: JSON, since most parties
 * `JSON.parse` what they receive. `{id}` becomes the message's token, which is all the probe
 * looks for in what clients receive, so a party may wrap or re-encode the message freely.
 */
export const DEFAULT_PAYLOAD = '{"type":"message","id":"{id}","text":"{id}"}';
export const PAYLOAD_ID = "{id}";

/** The message for one token. */
export function fillPayload(template: string, token: string): string {
  return template.replaceAll(PAYLOAD_ID, token);
}

export function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

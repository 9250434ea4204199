import { isJson } from "./probe-payload.js";
import { setupBody, setupPath, type SetupRequest } from "../core/verify/setup-request.js";

/** How one setup request was answered. */
export interface SetupOutcome {
  source: string;
  method: string;
  path: string;
  /** HTTP status; 0 when nothing answered. */
  status: number;
  /** The start of the answer's body, to show when it failed. */
  body: string;
}

/**
 * Sends the setup requests in order for one room, stopping at the first that fails (a probe of
 * an app whose state was not made proves nothing). `via` stands in for the sharded party's name
 * in the sharded run: the router, which passes the POST on to the room as migrated clients' do.
 */
export async function sendSetupRequests(host: string, requests: SetupRequest[], room: string, via?: { party: string; router: string }): Promise<SetupOutcome[]> {
  const outcomes: SetupOutcome[] = [];
  for (const request of requests) {
    const party = via && request.party === via.party ? via.router : request.party;
    const path = setupPath(request, room, party);
    const body = setupBody(request, room);
    const headers = { ...(body === "" ? {} : { "content-type": isJson(body) ? "application/json" : "text/plain;charset=UTF-8" }), ...request.headers };
    const outcome = await fetch(`http://${host}${path}`, { method: request.method, headers, body: body === "" ? undefined : body }).then(
      async (response) => ({ status: response.status, body: (await response.text()).slice(0, 200) }),
      (error: unknown) => ({ status: 0, body: error instanceof Error ? error.message : String(error) }),
    );
    outcomes.push({ source: request.source, method: request.method, path, ...outcome });
    if (!setupSucceeded(outcome.status)) break;
  }
  return outcomes;
}

export function setupSucceeded(status: number): boolean {
  return status >= 200 && status < 300;
}

import assert from "node:assert/strict";
import WebSocket from "ws";
import { wsAttempt } from "./raw-http.js";
import { sleep, sum, until } from "./wait.js";

/**
 * What the two attack suites (test/live/security-live.test.ts on partykit dev,
 * security-partyserver-live.test.ts on wrangler dev) share: the fixture's client, the helpers
 * that join and read it, and the tests that are the same on both platforms. Each suite keeps its
 * own setup and the attacks whose details differ by platform.
 */

export const SHARDS = 4;
/** Long enough for a message that was going to arrive to have arrived. */
export const SETTLE_MS = 300;
export const MIB = 1024 * 1024;
export const SECRET = "s3cret";

export type RoutedSocket = { url: string; close(): void; addEventListener(type: "message", listener: (event: { data: unknown }) => void): void };
export type Join = (options: { host: string; room: string; id: string; WebSocket: unknown }) => { socket: RoutedSocket; say(text: string): void };
export type Client = { id: string; key: string; inbox: string[]; say(text: string): void; close(): void };
export type Answer = { status: number; body: string };

/** Where a suite's app runs and how its fixture greets a socket. */
export interface SecurityApp {
  host(): string;
  /** The fixture's migrated app/client.ts. */
  join(): Join;
  /** The router's URL name. */
  router: string;
  viewToken(): string;
  /** The first message a socket of `id` gets: `hello <id>`, or with the user the Worker's hook passed on. */
  greeting(id: string): string;
  /** How long a greeting may take (wrangler dev starts a room more slowly). */
  greetedWithinMs: number;
  /** Run after the suite: each socket a helper opened is closed there. */
  cleanups: (() => void)[];
}

/** The helpers both suites use on their app. */
export function securityHelpers(app: SecurityApp) {
  /** Clients of the migrated app/client.ts, each greeted, with the write key in its URL. */
  async function clients(room: string, ids: string[]): Promise<Client[]> {
    const joined = ids.map((id) => {
      const { socket, say } = app.join()({ host: app.host(), room, id, WebSocket });
      const inbox: string[] = [];
      socket.addEventListener("message", (event) => inbox.push(String(event.data)));
      app.cleanups.push(() => socket.close());
      return { id, socket, inbox, say, close: () => socket.close() };
    });
    await until(() => joined.every((client) => client.inbox.includes(app.greeting(client.id))), app.greetedWithinMs);
    for (const client of joined) assert.deepEqual(client.inbox.splice(0), [app.greeting(client.id)], `${room}: ${client.id}`);
    return joined.map(({ socket, ...client }) => ({ ...client, key: new URL(socket.url).searchParams.get("_psk") ?? "" }));
  }

  /** Every client receives exactly `expected` (in order) since the last call, and nothing more. */
  async function expectInboxes(group: Client[], expected: string[]) {
    await until(() => group.every((client) => client.inbox.length >= expected.length), 10_000);
    await sleep(SETTLE_MS);
    for (const client of group) assert.deepEqual(client.inbox.splice(0), expected, client.id);
  }

  async function opened(url: string): Promise<WebSocket> {
    const attempt = await wsAttempt(url);
    assert.ok(!attempt.refused, attempt.refused ? `${url.slice(0, 120)}: ${attempt.status} ${attempt.body}` : "");
    app.cleanups.push(() => attempt.socket.close());
    return attempt.socket;
  }

  /** How a handshake was refused, or "opened" (and closed again). */
  async function refusal(url: string): Promise<{ status: number; body: string } | "opened"> {
    const attempt = await wsAttempt(url);
    if (!attempt.refused) attempt.socket.close();
    return attempt.refused ? { status: attempt.status, body: attempt.body } : "opened";
  }

  /** The router's load view of `room`: the operator's, so only with the deploy's view token. */
  async function load(room: string): Promise<number[]> {
    const view = (await (await fetch(`http://${app.host()}/parties/${app.router}/${room}`, { headers: { "x-party-shard-view-token": app.viewToken() } })).json()) as { load: number[] };
    return view.load;
  }

  return { clients, expectInboxes, opened, refusal, load };
}

/** The control both suites start with: what the attacks must not break works. */
export async function keyedWritesReachEveryone({ clients, load }: Pick<ReturnType<typeof securityHelpers>, "clients" | "load">): Promise<void> {
  const group = await clients("control", ["c-1", "c-2", "c-3"]);
  const rounds = [0, 1, 2, 3, 4];
  for (const round of rounds) for (const client of group) client.say(`m${round}`);
  const expected = group.flatMap((client) => rounds.map((round) => `${client.id}: m${round}`));
  await until(() => group.every((client) => client.inbox.length >= expected.length), 10_000);
  await sleep(SETTLE_MS);
  for (const client of group) {
    assert.deepEqual([...client.inbox].sort(), [...expected].sort(), client.id);
    for (const sender of group) {
      const fromSender = client.inbox.filter((text) => text.startsWith(`${sender.id}: `));
      assert.deepEqual(fromSender, expected.filter((text) => text.startsWith(`${sender.id}: `)), `${client.id} from ${sender.id}`);
    }
  }
  // The sockets really sit on shards.
  assert.equal(sum(await load("control")), group.length);
}

/**
 * A crowd of real partysocket clients in one Node process, for `npm run bench:scale`: they
 * connect at once, are timed until greeted, and count every broadcast they receive.
 *
 * The bench's own CPU stays small beside the servers': no JSON per frame (a frame's kind is read
 * at a fixed offset, a broadcast's numbers from its text), counts in typed arrays, no
 * per-message compression (a ws offering permessage-deflate would make both ends deflate).
 */
import { PartySocket } from "partysocket";
import { routerClient, shardKey } from "party-shard/client";
import WebSocket from "ws";
import { BroadcastRound } from "./scale-round.js";

/** ws without permessage-deflate, in the shape partysocket constructs. */
class PlainWebSocket extends WebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols, { perMessageDeflate: false });
  }
}

/** The chats' frames are `{"type":"<kind>",…}`: the kind starts at this offset. */
const KIND_AT = '{"type":"'.length;
const TEXT = '"text":"';

export interface CrowdOptions {
  host: string;
  /** Where clients connect: the router party (sharded) or the party itself (direct). */
  party: string;
  room: string;
  /** What every client adds to its connect query (the app's own token, say). */
  query?: Record<string, string>;
  clients: number;
  /** The router party, for the sharded room: writes go through it (sendViaRouter), as migrated clients send. */
  router?: string;
  /** Sharded, writes on each writer's own socket instead (as `migrate --writes socket` leaves them): its shard relays them. */
  socketWrites?: boolean;
}

export class Crowd {
  readonly sockets: PartySocket[];
  /** performance.now() when the sockets were made, and when each client got the party's welcome. */
  readonly startedAt: number;
  readonly greetedAt: Float64Array;
  greeted = 0;
  /** Open events past each client's first: reconnects. */
  reconnects = 0;
  /** Error events: a connect that failed or timed out (partysocket then tries again). */
  errors = 0;
  /** Writes sendViaRouter finally gave up on. */
  failedWrites = 0;
  private opened: Uint8Array;
  private lastFrameAt = 0;
  private round: BroadcastRound | undefined;
  private readonly send: (socket: PartySocket, text: string) => void;

  constructor(private readonly options: CrowdOptions) {
    const { clients, router, socketWrites } = options;
    this.greetedAt = new Float64Array(clients);
    this.opened = new Uint8Array(clients);
    if (router && !socketWrites) {
      const { sendViaRouter } = routerClient(router);
      this.send = (socket, text) => void sendViaRouter(socket, text).catch(() => this.failedWrites++);
    } else {
      this.send = (socket, text) => socket.send(text);
    }
    this.startedAt = performance.now();
    this.sockets = Array.from({ length: clients }, (_, i) => this.connect(i));
  }

  private connect(i: number): PartySocket {
    const user = { ...this.options.query, user: `c${i}` };
    const socket = new PartySocket({
      host: this.options.host,
      party: this.options.party,
      room: this.options.room,
      id: `c${i}`,
      query: this.options.router ? shardKey(user) : user,
      WebSocket: PlainWebSocket as unknown as typeof globalThis.WebSocket,
      // A thousand upgrades queue on one dev process: partysocket's 4 s would drop and redo them.
      connectionTimeout: 120_000,
    });
    socket.addEventListener("open", () => {
      if (this.opened[i]) this.reconnects++;
      this.opened[i] = 1;
    });
    socket.addEventListener("error", () => this.errors++);
    socket.addEventListener("message", (event: MessageEvent) => this.onFrame(i, event.data));
    return socket;
  }

  private onFrame(client: number, data: unknown) {
    this.lastFrameAt = performance.now();
    if (typeof data !== "string") return;
    if (data.startsWith("welcome", KIND_AT)) {
      if (this.greetedAt[client] === 0) {
        this.greetedAt[client] = performance.now();
        this.greeted++;
      }
    } else if (data.startsWith("say", KIND_AT) && this.round) {
      const at = data.indexOf(TEXT, KIND_AT);
      if (at >= 0) this.round.onText(client, data, at + TEXT.length, performance.now());
    }
  }

  /** `writers` clients (the first ones) each send `perWriter` messages at once; the round counts what arrives. */
  broadcast(id: number, writers: number, perWriter: number): BroadcastRound {
    const round = new BroadcastRound(id, this.sockets.length, writers, perWriter);
    this.round = round;
    for (let seq = 0; seq < perWriter; seq++) {
      for (let writer = 0; writer < writers; writer++) {
        round.sent(writer, seq, performance.now());
        this.send(this.sockets[writer]!, round.text(writer, seq));
      }
    }
    return round;
  }

  /** Waits until no frame came for `ms` (what the party sends on each join has arrived), at most `maxMs`. */
  async quiet(ms: number, maxMs: number): Promise<void> {
    const end = performance.now() + maxMs;
    while (performance.now() - this.lastFrameAt < ms && performance.now() < end) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  close(): Promise<void> {
    let open = 0;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 15_000);
      const closed = () => {
        if (--open === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      for (const socket of this.sockets) {
        if (socket.readyState === socket.CLOSED) continue;
        open++;
        socket.addEventListener("close", closed, { once: true });
        socket.close();
      }
      if (open === 0) {
        clearTimeout(timer);
        resolve();
      }
    });
  }
}

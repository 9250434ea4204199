/**
 * One-time tickets for the requests only the runtime may make to a room of this Worker: a shard's
 * link to its leader, a client socket the router hands to a shard. The room issues them by RPC,
 * which no HTTP request can make: a Worker that forwards a client's request to the room as it
 * came (a hand-written `env[binding]` switch) cannot get one, so the client cannot speak for a
 * shard, nor reach a shard with the router's headers forged (the URL and `cf` its party sees).
 */

/** How long a ticket is good for: it is asked for just before the request that takes it. */
const TICKET_MS = 10_000;

class Tickets {
  /** Ticket → when it expires, in the order issued: the order they expire in. */
  private readonly out = new Map<string, number>();

  /** `max`: at most this many out at once; past it a ticket is still issued, and refused when taken. */
  constructor(private readonly max: number) {}

  issue(now = Date.now()): string {
    // Expired ones are at the front (a taken one is gone already): each is looked at once more, when it goes.
    for (let first = this.out.entries().next(); !first.done && first.value[1] <= now; first = this.out.entries().next()) this.out.delete(first.value[0]);
    const ticket = crypto.randomUUID();
    if (this.out.size < this.max) this.out.set(ticket, now + TICKET_MS);
    return ticket;
  }

  /** Whether `ticket` was issued here and is still good; either way it is good no more. */
  take(ticket: string | null, now = Date.now()): boolean {
    if (ticket === null) return false;
    const expires = this.out.get(ticket);
    this.out.delete(ticket);
    return expires !== undefined && expires > now;
  }
}

export { TICKET_MS, Tickets };

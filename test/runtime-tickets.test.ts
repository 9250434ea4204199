import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TICKET_MS, Tickets } from "../src/runtime/tickets.js";

describe("one-time tickets (a shard's link, a client socket handed to a shard)", () => {
  it("are good once, until they expire; one never issued, or none, is not", () => {
    const tickets = new Tickets(8);
    const [a, b] = [tickets.issue(0), tickets.issue(0)];
    assert.notEqual(a, b);
    assert.equal(tickets.take(a, 1), true);
    assert.equal(tickets.take(a, 1), false, "taken twice");
    assert.equal(tickets.take(b, TICKET_MS), false, "expired");
    assert.equal(tickets.take("forged", 1), false);
    assert.equal(tickets.take(null, 1), false);
  });

  it("past `max` out at once are issued but refused; expired ones make room again", () => {
    const tickets = new Tickets(2);
    const kept = [tickets.issue(0), tickets.issue(0)];
    const over = tickets.issue(0);
    assert.equal(tickets.take(over, 1), false);
    assert.deepEqual(kept.map((ticket) => tickets.take(ticket, 1)), [true, true]);
    // Taken ones free their place: the next is good.
    assert.equal(tickets.take(tickets.issue(2), 3), true);
    const later = tickets.issue(TICKET_MS + 10);
    assert.equal(tickets.take(later, TICKET_MS + 11), true);
  });

  it("connects faster than tickets expire are not refused: taken ones make room at once", () => {
    // 10 connects a millisecond for 2 s: 20,000 tickets within one ticket's life, over 4,096.
    const tickets = new Tickets(4_096);
    let refused = 0;
    for (let i = 0; i < 20_000; i++) if (!tickets.take(tickets.issue(i / 10), i / 10)) refused++;
    assert.equal(refused, 0);
  });
});

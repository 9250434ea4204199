import { describe } from "node:test";
import { describeDifferential } from "../helpers/differential.js";
import { counter, poll } from "../helpers/differential-apps.js";

// The two apps share nothing, so they run side by side; each app's runs stay in order.
// The scripts are shared with the PartyServer twins (differential-partyserver.test.ts).
describe("differential: a sharded app behaves exactly like the unsharded one", { concurrency: 2 }, () => {
  describeDifferential("counter (class party, storage kept across migration, attachments, side effects)", { ...counter, fixture: "counter", room: "tally" });
  describeDifferential("poll (object-style party, HTTP-created rounds, connection state)", { ...poll, fixture: "poll", room: "lunch" });
});

import { describeYjsDifferential } from "../helpers/yjs-differential.js";

// A hibernating YServer subclass, on wrangler dev (test/fixtures/differential-partyserver/yjs).
describeYjsDifferential({ title: "wrangler dev (YServer, hibernating)", platform: "partyserver", fixture: "yjs", router: "party-shard-router" });

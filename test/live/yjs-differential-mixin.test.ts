import { describeYjsDifferential } from "../helpers/yjs-differential.js";

// The same app written with y-partyserver 2.x's mixin, withYjs(Server) (test/fixtures/differential-partyserver/yjs-mixin).
describeYjsDifferential({ title: "wrangler dev (withYjs(Server), hibernating)", platform: "partyserver", fixture: "yjs-mixin", router: "party-shard-router" });

import { describeYjsDifferential } from "../helpers/yjs-differential.js";

// y-partykit's onConnect with its own load and callback, on partykit dev (test/fixtures/differential/yjs).
describeYjsDifferential({ title: "partykit dev (y-partykit)", platform: "partykit", fixture: "yjs", router: "router" });

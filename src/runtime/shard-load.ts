/**
 * A shard's reports to the router's room `<room>` (placement.ts): how many clients it holds, so
 * placement follows real load, and when its current incarnation started (the load view shows it).
 *
 * - at most one report in flight: it carries the count when it is sent, and REPORT_GAP_MS after
 *   it is answered one more goes if the count changed meanwhile. A burst of N connects costs the
 *   router's room a few requests, not N (after a deploy every client reconnects at once), and
 *   the shard a few counts of its sockets (each reads every socket's state);
 * - reports are numbered within the shard's incarnation: one overtaken by a later one is ignored;
 * - a failed report is only logged: the next change sends the count again.
 */
import type { ShardHost } from "./host.js";
import { HEADER } from "./protocol.js";
import type { LoadReport } from "./protocol.js";

/** The least time from a report's answer to the next report. */
const REPORT_GAP_MS = 50;

class LoadReporter {
  private reports = 0;
  private sending = false;
  /** The latest client that came or went, when that is not reported yet. */
  private unreported: string | undefined;
  /** What the last report said, so an unchanged count is not sent again. */
  private sent: { count: number; from: string } | undefined;
  /** The incarnation seen last, and when it started. */
  private incarnation: string;
  private startedAt = Date.now();

  constructor(
    private readonly host: ShardHost,
    private readonly leaderRoom: string,
    private readonly shard: number,
    /** The shard's clients now, and its incarnation now. */
    private readonly count: () => number,
    private readonly currentIncarnation: () => string,
    /** Storage operations since the shard started: the load view shows them, not the reports. */
    private readonly storageOps: () => number = () => 0,
    /** The router's requests for writes since the shard started (shard-writes.ts): the view shows them too. */
    private readonly writeRequests: () => number = () => 0,
  ) {
    this.incarnation = currentIncarnation();
  }

  /** `id`: the client that came or went. */
  changed(id: string) {
    this.unreported = id;
    if (!this.sending) void this.send();
  }

  /** The shard's answer when the router's room asks for its count. */
  now(): { connections: number; startedAt: number; storageOps: number; writeRequests: number } {
    return { connections: this.count(), startedAt: this.started(), storageOps: this.storageOps(), writeRequests: this.writeRequests() };
  }

  private async send() {
    this.sending = true;
    try {
      for (let id = this.unreported; id !== undefined; id = this.unreported) {
        const [count, from, startedAt] = [this.count(), this.currentIncarnation(), this.started()];
        this.unreported = undefined;
        if (this.sent?.count === count && this.sent.from === from) continue;
        this.sent = { count, from };
        const report: LoadReport = { shard: this.shard, count, id, from, n: ++this.reports, startedAt };
        const placement = this.host.routerRoom(this.leaderRoom);
        await placement("", { method: "POST", headers: { [HEADER.load]: encodeURIComponent(JSON.stringify(report)) } }).catch((error: unknown) => {
          // Sent again with the next change, whatever the count then.
          this.sent = undefined;
          console.error("party-shard: could not report load", error);
        });
        if (this.unreported !== undefined) await new Promise((resolve) => setTimeout(resolve, REPORT_GAP_MS));
      }
    } finally {
      this.sending = false;
    }
  }

  private started(): number {
    const incarnation = this.currentIncarnation();
    if (incarnation !== this.incarnation) [this.incarnation, this.startedAt] = [incarnation, Date.now()];
    return this.startedAt;
  }
}

export { LoadReporter, REPORT_GAP_MS };

/**
 * A shard's reports to the router's room `<room>` (placement.ts): how many clients it holds,
 * after each connect and close, so placement follows real load.
 */
import type { ShardHost } from "./host.js";
import { HEADER } from "./protocol.js";
import type { LoadReport } from "./protocol.js";

class LoadReporter {
  private reports = 0;

  constructor(
    private readonly host: ShardHost,
    private readonly leaderRoom: string,
    private readonly shard: number,
  ) {}

  /**
   * `id`: the client that came or went. Reports are numbered within the shard's incarnation: one
   * overtaken by a later one is ignored.
   */
  report(id: string, count: number, incarnation: string) {
    const report: LoadReport = { shard: this.shard, count, id, from: incarnation, n: ++this.reports };
    const placement = this.host.routerRoom(this.leaderRoom);
    placement("", { method: "POST", headers: { [HEADER.load]: encodeURIComponent(JSON.stringify(report)) } })
      .catch((error: unknown) => console.error("party-shard: could not report load", error));
  }
}

export { LoadReporter };

/**
 * A leader's start: before any event reaches the party, every shard that holds clients says who
 * they are (its hello). Woken from hibernation or evicted, the leader remembers no client; a
 * shard whose link is up is asked, and a shard whose link closed while the room was idle is
 * woken (a request to its room): one with clients links again and says hello.
 *
 * Waits at most RESYNC_TIMEOUT_MS: a shard that does not answer holds the room no longer. The
 * platform's start waits only for the linked shards: a woken shard's link cannot open until the
 * room has started; the frames of every shard wait for all of them (LeaderCore.heardShards).
 */
import type { LeaderHost, LinkEnd } from "./host.js";
import { HEADER, linkShard, shardRoomId } from "./protocol.js";
import type { LeaderFrame } from "./protocol.js";

/** How long a starting leader waits for its shards to tell it who is connected. */
const RESYNC_TIMEOUT_MS = 5_000;

class Resync {
  private readonly waiting = new Map<number, () => void>();
  /** Shards that said hello since this start began: their hello is not waited for again. */
  private readonly heardFrom = new Set<number>();
  /** Shards asked for a hello, by the hellos taken from them then: asked once until one comes. */
  private readonly askedHello = new Map<number, number>();

  constructor(
    private readonly host: LeaderHost,
    private readonly toLink: (link: LinkEnd, frame: LeaderFrame) => void,
    private readonly roomId: () => string,
  ) {}

  /** `linked`: the hellos of the shards linked now; `all`: those of the shards woken too. */
  run(): { linked: Promise<void>; all: Promise<void> } {
    this.heardFrom.clear();
    const links = this.host.links();
    const hellos = links.map((link) => this.expect(linkShard(link.id)));
    for (const link of links) this.toLink(link, { t: "resync" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, RESYNC_TIMEOUT_MS)));
    const linked = Promise.race([Promise.all(hellos).then(() => undefined), late]);
    const all = Promise.race([Promise.all([linked, this.wakeAsleep()]).then(() => undefined), late]).then(() => {
      if (timer !== undefined) clearTimeout(timer);
      this.waiting.clear();
    });
    return { linked, all };
  }

  /** Asks a shard for a hello, once for all the frames that came after its hello number `since`. */
  askHello(shard: number, link: LinkEnd, since: number) {
    if (this.askedHello.get(shard) === since) return;
    this.askedHello.set(shard, since);
    this.toLink(link, { t: "resync" });
  }

  /** A shard said hello. */
  heard(shard: number) {
    this.heardFrom.add(shard);
    this.waiting.get(shard)?.();
    this.waiting.delete(shard);
  }

  private expect(shard: number): Promise<void> {
    return new Promise<void>((resolve) => this.waiting.set(shard, resolve));
  }

  /** Every shard without a link is woken; the leader waits for the hello of each that says it has clients. */
  private async wakeAsleep(): Promise<void> {
    const count = await this.shardCount();
    // Linked by now, or heard from meanwhile (a shard that linked after the start began): awake.
    const linked = new Set(this.host.links().map((link) => linkShard(link.id)));
    const asleep = Array.from({ length: count }, (_, i) => i + 1).filter((shard) => !linked.has(shard) && !this.heardFrom.has(shard));
    await Promise.all(
      asleep.map(async (shard) => {
        const hello = this.expect(shard);
        const answer = await this.host.routerRoom(shardRoomId(this.roomId(), shard))("", { method: "POST", headers: { [HEADER.link]: "wake" } }).catch(() => undefined);
        const said = answer?.ok ? ((await answer.json().catch(() => ({}))) as { linking?: unknown }) : {};
        // Nobody there and nothing owed (its clients' closes taken): no hello will come. Any other answer: its hello may still (or came meanwhile).
        if (said.linking === false || this.heardFrom.has(shard)) this.heard(shard);
        return hello;
      }),
    );
  }

  /** How many shards the router has, as its room for this room id says; 0 when it cannot say. */
  private async shardCount(): Promise<number> {
    try {
      const res = await this.host.routerRoom(this.roomId())("", { method: "GET", headers: { [HEADER.counts]: "1" } });
      const { load } = (await res.json()) as { load?: unknown };
      return Array.isArray(load) ? load.length : 0;
    } catch (error) {
      // In onAlarm PartyKit hides the room id; shards then link again on their own next event.
      console.error("party-shard: a starting leader could not learn its shards; those asleep link again on their next event", error);
      return 0;
    }
  }
}

export { Resync };

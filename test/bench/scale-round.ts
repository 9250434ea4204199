/**
 * One round of broadcasts in `npm run bench:scale`: `writers` clients each send `perWriter`
 * messages, `<round>:<writer>:<seq>`, which the party broadcasts to everyone but the writer.
 * Counts, per client, what arrived, twice, or before a writer's earlier message; per broadcast,
 * when its last client got it.
 */
export class BroadcastRound {
  readonly broadcasts: number;
  /** Receipts every client should get: each broadcast reaches everyone but its writer. */
  readonly expected: number;
  receipts = 0;
  duplicates = 0;
  outOfOrder = 0;
  /** Frames of this round the writer itself got back (the party excludes the writer). */
  echoes = 0;
  /** performance.now() of the first send, and of the round's last receipt. */
  firstSentAt = 0;
  lastReceiptAt = 0;
  private readonly seen: Uint8Array;
  private readonly lastSeq: Int32Array;
  private readonly count: Int32Array;
  private readonly sentAt: Float64Array;
  private readonly doneAt: Float64Array;

  constructor(
    readonly id: number,
    readonly clients: number,
    readonly writers: number,
    readonly perWriter: number,
  ) {
    this.broadcasts = writers * perWriter;
    this.expected = this.broadcasts * (clients - 1);
    this.seen = new Uint8Array(clients * this.broadcasts);
    this.lastSeq = new Int32Array(clients * writers).fill(-1);
    this.count = new Int32Array(this.broadcasts);
    this.sentAt = new Float64Array(this.broadcasts);
    this.doneAt = new Float64Array(this.broadcasts);
  }

  text(writer: number, seq: number): string {
    return `${this.id}:${writer}:${seq}`;
  }

  sent(writer: number, seq: number, now: number) {
    this.firstSentAt ||= now;
    this.sentAt[writer * this.perWriter + seq] = now;
  }

  get complete(): boolean {
    return this.receipts >= this.expected;
  }

  /** A broadcast's text, from `at` in `frame` up to its closing quote. */
  onText(client: number, frame: string, at: number, now: number) {
    const [round, writer, seq] = readNumbers(frame, at);
    if (round !== this.id || writer >= this.writers || seq >= this.perWriter) return;
    if (client === writer) {
      this.echoes++;
      return;
    }
    const broadcast = writer * this.perWriter + seq;
    const slot = client * this.broadcasts + broadcast;
    if (this.seen[slot]) {
      this.duplicates++;
      return;
    }
    this.seen[slot] = 1;
    const lane = client * this.writers + writer;
    if (seq < this.lastSeq[lane]!) this.outOfOrder++;
    else this.lastSeq[lane] = seq;
    this.receipts++;
    this.lastReceiptAt = now;
    if (++this.count[broadcast]! === this.clients - 1) this.doneAt[broadcast] = now;
  }

  /** Send → the last client's receipt, in ms, for the broadcasts every client got. */
  latencies(): number[] {
    const out: number[] = [];
    for (let b = 0; b < this.broadcasts; b++) if (this.doneAt[b]! > 0) out.push(this.doneAt[b]! - this.sentAt[b]!);
    return out;
  }
}

/** Three non-negative integers separated by `:` from `at`; -1 for any that is missing. */
function readNumbers(text: string, at: number): [number, number, number] {
  const out: [number, number, number] = [-1, -1, -1];
  let i = at;
  for (let n = 0; n < 3; n++) {
    let value = 0;
    let digits = 0;
    for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i), digits++) value = value * 10 + c - 48;
    if (digits === 0) return out;
    out[n] = value;
    i++; // the separator
  }
  return out;
}

/**
 * What the probe's clients received, counted two ways at once, so that the choice between them
 * can be made after the fact (`auto`):
 *  - token: a frame carrying write n's token is write n's receipt; exact, and a second one is a
 *    duplicate;
 *  - any: a listener's k-th frame received after writes began counts for its k-th write, once
 *    that write was sent. It proves that something reached the client after each write, not
 *    that the write caused it: a party that sends two frames per write, or one on a timer, can
 *    make a lost write look delivered, and duplicates cannot be told apart.
 */
export type Counted = "token" | "any";
export type CountMode = Counted | "auto";

const SAMPLE_SIZE = 3;
const SAMPLE_CHARS = 120;

export class Receipts {
  readonly token: Map<number, number>[];
  readonly any: Map<number, number>[];
  duplicates = 0;
  /** Writes whose publish has begun: a frame may arrive before the publish is answered. */
  published = 0;
  frames = 0;
  framesBeforeWrites = 0;
  lastFrameAt = 0;
  /** A few distinct frames, shortened, to show what the party does send. */
  readonly sample: string[] = [];
  private readonly anyNext = new Map<number, number>();

  constructor(messages: number, readonly listeners: number, private readonly tokenPattern: RegExp) {
    this.token = Array.from({ length: messages }, () => new Map());
    this.any = Array.from({ length: messages }, () => new Map());
  }

  /** Records one frame; `listening` is false for the writer, whose frames are only shown, never counted. */
  onFrame(client: number, data: unknown, listening: boolean, now: number): void {
    const text = typeof data === "string" ? data : `<${(data as { byteLength?: number }).byteLength ?? "?"} bytes>`;
    this.frames++;
    this.lastFrameAt = now;
    if (this.published === 0) this.framesBeforeWrites++;
    const shown = text.length > SAMPLE_CHARS ? `${text.slice(0, SAMPLE_CHARS)}…` : text;
    if (this.sample.length < SAMPLE_SIZE && !this.sample.includes(shown)) this.sample.push(shown);
    if (!listening) return;
    const seq = Number(this.tokenPattern.exec(text)?.[1] ?? Number.NaN);
    const got = this.token[seq];
    if (got) {
      if (got.has(client)) this.duplicates++;
      else got.set(client, now);
    }
    const next = this.anyNext.get(client) ?? 0;
    if (next < this.published && next < this.any.length) {
      this.any[next]!.set(client, now);
      this.anyNext.set(client, next + 1);
    }
  }

  /** What `auto` counts: tokens once any arrived (the party echoes writes), otherwise any frame. */
  counted(mode: CountMode): Counted {
    if (mode !== "auto") return mode;
    return this.token.some((got) => got.size > 0) ? "token" : "any";
  }

  receipts(mode: CountMode, seq: number): Map<number, number> {
    return this.counted(mode) === "token" ? this.token[seq]! : this.any[seq]!;
  }

  delivered(mode: CountMode, writes: number): number {
    const counted = this.counted(mode) === "token" ? this.token : this.any;
    return counted.slice(0, writes).reduce((sum, got) => sum + got.size, 0);
  }
}

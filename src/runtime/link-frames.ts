/**
 * How a frame travels a shard's link (both directions). A frame whose messages are all text goes
 * as JSON text. One that carries bytes goes as one binary WebSocket message: the JSON's length
 * (4 bytes, big-endian), the frame as JSON with each message's bytes replaced by where they are
 * (`{ bin: [start, length] }`), then the bytes themselves: no base64 (4/3 the size), no escaping.
 *
 * Only messages carry bytes: a frame's `data`, each item's `data` in `broadcasts`, and those of
 * each frame a shard sends together in `frames`.
 */
import { utf8Length, type Data, type LeaderFrame, type RelayFrame, type ShardFrame } from "./protocol.js";

/** A frame as a link sends it. */
type Wire = string | ArrayBuffer;
type LinkFrame = ShardFrame | LeaderFrame | LeaderBatch;
/** Where a message's bytes are in a binary frame, from the end of its JSON. */
type Placed = { bin: [start: number, length: number] };

function pack(frame: LinkFrame): Wire {
  const parts: Uint8Array[] = [];
  let offset = 0;
  const place = (data: Data | Placed): Data | Placed => {
    if (!("bytes" in data)) return data;
    parts.push(data.bytes);
    const placed: Placed = { bin: [offset, data.bytes.byteLength] };
    offset += data.bytes.byteLength;
    return placed;
  };
  const json = JSON.stringify(withData(frame, place));
  if (parts.length === 0) return json;
  const head = new TextEncoder().encode(json);
  const wire = new Uint8Array(4 + head.byteLength + offset);
  new DataView(wire.buffer).setUint32(0, head.byteLength);
  wire.set(head, 4);
  let at = 4 + head.byteLength;
  for (const part of parts) {
    wire.set(part, at);
    at += part.byteLength;
  }
  return wire.buffer;
}

/** A frame from what a link received: JSON text, or a binary frame as `pack` makes it. */
function unpack<F extends LinkFrame>(raw: unknown): F {
  if (typeof raw === "string") return JSON.parse(raw) as F;
  const bytes = raw instanceof ArrayBuffer ? new Uint8Array(raw) : ArrayBuffer.isView(raw) ? new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  if (!bytes || bytes.byteLength < 4) throw new Error(`party-shard: a link frame that is neither text nor a binary frame (${Object.prototype.toString.call(raw)})`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  const frame = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + length))) as F;
  const payload = bytes.subarray(4 + length);
  const restore = (data: Data | Placed): Data => ("bin" in data ? { bytes: payload.subarray(data.bin[0], data.bin[0] + data.bin[1]) } : data);
  return withData(frame, restore) as F;
}

/**
 * The frame with each of its messages (a frame's `data`, each item's, each batched frame's)
 * mapped: to where its bytes are (pack), or back (unpack). The frame's type is loose meanwhile.
 */
function withData(frame: LinkFrame, map: (data: Data | Placed) => Data | Placed): LinkFrame {
  const each = map as (data: Data) => Data;
  if ("data" in frame) return { ...frame, data: each(frame.data) };
  if (frame.t === "broadcasts") return { ...frame, items: frame.items.map((item) => ({ ...item, data: each(item.data) })) };
  if (frame.t === "frames") return { ...frame, frames: frame.frames.map((inner) => withData(inner, map) as RelayFrame) };
  return frame;
}

/**
 * Frames as the fewest link messages: one message while their bytes stay under `maxBytes` (a
 * frame bigger than that goes alone), a lone frame as itself. `got`: what the shard got of the
 * leader's frames, said in the last message (then a batch, even of one frame): the leader takes
 * a `got` to come after every frame the shard relayed before (leader-replace.ts).
 */
function packBatches(frames: readonly { frame: RelayFrame; bytes: number }[], maxBytes: number, got?: number): Wire[] {
  const wires: Wire[] = [];
  let batch: RelayFrame[] = [];
  let bytes = 0;
  const flush = (last: boolean) => {
    const said = last && got !== undefined ? { got } : undefined;
    if (batch.length > 0) wires.push(pack(batch.length === 1 && !said ? batch[0]! : { t: "frames", frames: batch, ...said }));
    batch = [];
    bytes = 0;
  };
  for (const entry of frames) {
    if (bytes + entry.bytes > maxBytes) flush(false);
    batch.push(entry.frame);
    bytes += entry.bytes;
  }
  flush(true);
  return wires;
}

/** Leader frames sent together in one link message (link-outbox.ts), to a shard whose hello said `batches`. */
type LeaderBatch = { t: "frames"; frames: LeaderFrame[] };
/** The frames of a leader's link message, in order: one, or those it sent together. */
const leaderFrames = (wire: LeaderFrame | LeaderBatch): LeaderFrame[] => (wire.t === "frames" ? wire.frames : [wire]);

/** A wire's size in bytes: a binary frame's length; a text frame's UTF-8 length (measured only when it could matter). */
function wireBytes(wire: Wire, measureAbove = 0): number {
  if (typeof wire !== "string") return wire.byteLength;
  return wire.length * 3 > measureAbove ? utf8Length(wire) : wire.length;
}

/** About the bytes a frame takes on its link, without packing it: its JSON with each message's bytes counted as bytes. */
function frameBytes(frame: LinkFrame): number {
  let bytes = 0;
  const json = JSON.stringify(frame, (_key, value: unknown) => (value instanceof Uint8Array ? ((bytes += value.byteLength), 0) : value));
  return json.length + bytes;
}

export { frameBytes, leaderFrames, pack, packBatches, unpack, wireBytes };
export type { Wire };

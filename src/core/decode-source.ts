import { isUtf8 } from "node:buffer";

/** U+FEFF, which some editors (Visual Studio, Notepad) put at the start of a UTF-8 file. */
export const BOM = "\uFEFF";

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A file's bytes as the text party-shard plans on: UTF-8 without its BOM (ts-morph drops it
 * too), and whether there was one, so the applier can write it back. Bytes that are not UTF-8
 * give `invalid` with where the first bad byte is: decoding them would turn each into U+FFFD,
 * and writing the text back would destroy them.
 */
export type DecodedSource = { text: string; bom: boolean } | { invalid: InvalidByte };

/** Where the first byte that is not UTF-8 is (1-based line, column in characters), and its value. */
export interface InvalidByte {
  line: number;
  col: number;
  byte: number;
}

export function decodeSource(bytes: Uint8Array): DecodedSource {
  if (!isUtf8(bytes)) return { invalid: firstInvalidByte(bytes) };
  const text = decoder.decode(bytes);
  return text.startsWith(BOM) ? { text: text.slice(1), bom: true } : { text, bom: false };
}

/** `Not valid UTF-8 (byte 0xE9)`; the location goes with it as line and column. */
export function describeInvalid({ byte }: InvalidByte): string {
  return `Not valid UTF-8 (byte 0x${byte.toString(16).toUpperCase().padStart(2, "0")})`;
}

function firstInvalidByte(bytes: Uint8Array): InvalidByte {
  let offset = 0;
  while (offset < bytes.length) {
    const lead = bytes[offset]!;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
    if (length === 0 || !isUtf8(bytes.subarray(offset, offset + length))) break;
    offset += length;
  }
  const lineStart = offset === 0 ? 0 : bytes.lastIndexOf(0x0a, offset - 1) + 1;
  const line = bytes.subarray(0, lineStart).filter((byte) => byte === 0x0a).length + 1;
  return { line, col: decoder.decode(bytes.subarray(lineStart, offset)).length + 1, byte: bytes[offset]! };
}

/**
 * Strict base64url (RFC 4648 §5), as JWTs use it: alphabet `A–Z a–z 0–9 - _`, no padding.
 *
 * Decoding accepts exactly one spelling per byte string, so a token cannot be altered without changing
 * its bytes: it returns `undefined` (never throws) on `=`, `+`, `/`, whitespace or any other character,
 * on impossible lengths (length % 4 == 1) and on non-zero unused bits in the last character.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** 6-bit value → char code. */
const CODES = new Uint8Array(64);
/** Char code → 6-bit value, or -1 for characters outside the alphabet (indices 0–127). */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  CODES[i] = ALPHABET.charCodeAt(i);
  VALUES[CODES[i]] = i;
}

/** Encodes bytes as unpadded base64url. */
export function base64urlEncode(bytes: Uint8Array): string {
  const c = CODES;
  const full = bytes.length - (bytes.length % 3);
  let out = '';
  let i = 0;
  for (; i < full; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += String.fromCharCode(c[n >>> 18], c[(n >>> 12) & 63], c[(n >>> 6) & 63], c[n & 63]);
  }
  if (bytes.length - full === 1) {
    out += String.fromCharCode(c[bytes[i] >>> 2], c[(bytes[i] & 3) << 4]);
  } else if (bytes.length - full === 2) {
    const n = (bytes[i] << 8) | bytes[i + 1];
    out += String.fromCharCode(c[n >>> 10], c[(n >>> 4) & 63], c[(n & 15) << 2]);
  }
  return out;
}

/** The 6-bit value of `text[index]`, or -1 when it is not a base64url character. */
function valueAt(text: string, index: number): number {
  const code = text.charCodeAt(index);
  return code < 128 ? VALUES[code] : -1;
}

/**
 * Decodes `text.slice(start, end)` (the whole string by default) from strict base64url, without copying
 * the slice. Returns `undefined` when the text is not canonical unpadded base64url (see the module doc).
 */
export function base64urlDecode(text: string, start = 0, end = text.length): Uint8Array | undefined {
  const length = end - start;
  const tail = length % 4;
  if (length < 0 || tail === 1) return undefined;
  const out = new Uint8Array((length >> 2) * 3 + (tail === 0 ? 0 : tail - 1));
  const fullEnd = end - tail;
  let o = 0;
  for (let i = start; i < fullEnd; i += 4) {
    const a = valueAt(text, i), b = valueAt(text, i + 1), c = valueAt(text, i + 2), d = valueAt(text, i + 3);
    if ((a | b | c | d) < 0) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    out[o++] = n >>> 8;
    out[o++] = n;
  }
  if (tail === 2) {
    const a = valueAt(text, fullEnd), b = valueAt(text, fullEnd + 1);
    if ((a | b) < 0 || (b & 15) !== 0) return undefined;
    out[o] = (a << 2) | (b >>> 4);
  } else if (tail === 3) {
    const a = valueAt(text, fullEnd), b = valueAt(text, fullEnd + 1), c = valueAt(text, fullEnd + 2);
    if ((a | b | c) < 0 || (c & 3) !== 0) return undefined;
    out[o++] = (a << 2) | (b >>> 4);
    out[o] = ((b & 15) << 4) | (c >>> 2);
  }
  return out;
}

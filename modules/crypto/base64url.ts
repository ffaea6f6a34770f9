/**
 * Strict base64url (RFC 4648 §5), as JWTs use it: alphabet `A–Z a–z 0–9 - _`, no padding.
 *
 * Decoding accepts exactly one spelling per byte string, so a token cannot be altered without changing
 * its bytes: it returns `undefined` (never throws) on `=`, `+`, `/`, whitespace or any other character,
 * on impossible lengths (length % 4 == 1) and on non-zero unused bits in the last character.
 */

import { runtime } from '../runtime';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** 6-bit value → char code. */
const CODES = new Uint8Array(64);
/** Char code → 6-bit value, or -1 for characters outside the alphabet (indices 0–127). */
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  CODES[i] = ALPHABET.charCodeAt(i);
  VALUES[CODES[i]] = i;
}

/** Characters `base64urlEncode` writes for `length` bytes. */
export function base64urlLength(length: number): number {
  return Math.ceil((length * 4) / 3);
}

/**
 * Writes `bytes` as unpadded base64url characters (one byte each) into `out` at `at`; returns the
 * offset after them. `out` needs `base64urlLength(bytes.length)` bytes from `at`.
 */
export function base64urlEncodeInto(bytes: Uint8Array, out: Uint8Array, at: number): number {
  const c = CODES;
  const full = bytes.length - (bytes.length % 3);
  let i = 0;
  for (; i < full; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[at++] = c[n >>> 18]; out[at++] = c[(n >>> 12) & 63]; out[at++] = c[(n >>> 6) & 63]; out[at++] = c[n & 63];
  }
  if (bytes.length - full === 1) {
    out[at++] = c[bytes[i] >>> 2]; out[at++] = c[(bytes[i] & 3) << 4];
  } else if (bytes.length - full === 2) {
    const n = (bytes[i] << 8) | bytes[i + 1];
    out[at++] = c[n >>> 10]; out[at++] = c[(n >>> 4) & 63]; out[at++] = c[(n & 15) << 2];
  }
  return at;
}

/**
 * Encodes bytes as unpadded base64url. The characters are written as bytes and made a string by the
 * host's native decoder in one call: on XS, building a string piece by piece allocates at every step.
 */
export function base64urlEncode(bytes: Uint8Array): string {
  const out = new Uint8Array(base64urlLength(bytes.length));
  base64urlEncodeInto(bytes, out, 0);
  return runtime().utf8Decode(out);
}

/**
 * `count` base64url characters (at most 8) spelling the non-negative integer `value` < 64^count as
 * big-endian base-64 digits: a compact number inside a JWT string claim. Throws a RangeError otherwise.
 */
export function base64urlDigits(value: number, count: number): string {
  if (!(count >= 1 && count <= 8 && Number.isInteger(value) && value >= 0 && value < 64 ** count)) {
    throw new RangeError(`xsdot: ${value} is not an integer that ${count} base64url digits can hold`);
  }
  const out = new Uint8Array(count);
  for (let i = count - 1; i >= 0; i--) {
    out[i] = CODES[value % 64];
    value = Math.floor(value / 64);
  }
  return runtime().utf8Decode(out);
}

/**
 * The integer that the base64url characters `chars[start..end)` (at most 8) spell as big-endian base-64
 * digits (the inverse of `base64urlDigits`), or -1 when one is outside the alphabet.
 */
export function base64urlDigitsValue(chars: Uint8Array, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = VALUES[chars[i]];
    if (!(digit >= 0)) return -1;
    value = value * 64 + digit;
  }
  return value;
}

/**
 * The number of bytes the base64url characters `chars[start..end)` decode to, or -1 when they are not
 * canonical unpadded base64url (the rules of `base64urlDecodeBytes`); checks without allocating.
 */
export function base64urlDecodedLength(chars: Uint8Array, start: number, end: number): number {
  const length = end - start;
  const tail = length % 4;
  if (length < 0 || tail === 1) return -1;
  const v = VALUES;
  for (let i = start; i < end; i++) if (!(v[chars[i]] >= 0)) return -1;
  // The last character's unused low bits must be zero: 4 of them after 2 characters, 2 after 3.
  if (tail === 2 && (v[chars[end - 1]] & 15) !== 0) return -1;
  if (tail === 3 && (v[chars[end - 1]] & 3) !== 0) return -1;
  return (length >> 2) * 3 + (tail === 0 ? 0 : tail - 1);
}

/**
 * Decodes the base64url characters `chars[start..end)` (bytes, e.g. a token as it arrived) into a new
 * array; `undefined` when they are not canonical unpadded base64url (see the module doc).
 */
export function base64urlDecodeBytes(chars: Uint8Array, start = 0, end = chars.length): Uint8Array | undefined {
  const length = end - start;
  const tail = length % 4;
  if (length < 0 || tail === 1) return undefined;
  const out = new Uint8Array((length >> 2) * 3 + (tail === 0 ? 0 : tail - 1));
  const v = VALUES;
  const fullEnd = end - tail;
  let o = 0;
  // A byte of 128 or more indexes past VALUES: undefined, which `| 0` below makes 0, so test it apart.
  for (let i = start; i < fullEnd; i += 4) {
    const a = v[chars[i]], b = v[chars[i + 1]], c = v[chars[i + 2]], d = v[chars[i + 3]];
    if (!(a >= 0 && b >= 0 && c >= 0 && d >= 0)) return undefined;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    out[o++] = n >>> 8;
    out[o++] = n;
  }
  if (tail === 2) {
    const a = v[chars[fullEnd]], b = v[chars[fullEnd + 1]];
    if (!(a >= 0 && b >= 0) || (b & 15) !== 0) return undefined;
    out[o] = (a << 2) | (b >>> 4);
  } else if (tail === 3) {
    const a = v[chars[fullEnd]], b = v[chars[fullEnd + 1]], c = v[chars[fullEnd + 2]];
    if (!(a >= 0 && b >= 0 && c >= 0) || (c & 3) !== 0) return undefined;
    out[o++] = (a << 2) | (b >>> 4);
    out[o] = ((b & 15) << 4) | (c >>> 2);
  }
  return out;
}

/**
 * Decodes `text.slice(start, end)` (the whole string by default) from strict base64url. Returns
 * `undefined` when the text is not canonical unpadded base64url (see the module doc). The text is
 * turned into bytes by one native call, not read a character at a time (each such call allocates on XS).
 */
export function base64urlDecode(text: string, start = 0, end = text.length): Uint8Array | undefined {
  if (start < 0 || end > text.length) return undefined;
  const chars = runtime().utf8Encode(text);
  // One byte per character, or some character is not ASCII (and so not base64url).
  if (chars.length !== text.length) return undefined;
  return base64urlDecodeBytes(chars, start, end);
}

/**
 * Strict base64url (RFC 4648 §5), as JWTs use it: alphabet `A–Z a–z 0–9 - _`, no padding.
 *
 * Decoding accepts exactly one spelling per byte string, so a token cannot be altered without changing
 * its bytes: it returns `undefined` (never throws) on `=`, `+`, `/`, whitespace or any other character,
 * on impossible lengths (length % 4 == 1) and on non-zero unused bits in the last character.
 */

import { runtime } from '../runtime';
import { charCodeAt, slice } from '../http/text';

/**
 * The engine's own base64 (ES2026 `Uint8Array.prototype.setFromBase64` / `toBase64`), where it has it:
 * XS in the Moddable SDK does, ~20 times faster than the loops below; Node 20 and the XS of
 * @agoric/xsnap do not, and take the loops.
 */
interface NativeBase64 {
  setFromBase64(text: string, options: { alphabet: 'base64url' }): { read: number; written: number };
  toBase64(options: { alphabet: 'base64url'; omitPadding: true }): string;
}
const native = typeof (Uint8Array.prototype as Partial<NativeBase64>).setFromBase64 === 'function'
  && typeof (Uint8Array.prototype as Partial<NativeBase64>).toBase64 === 'function';
const URL_ALPHABET = Object.freeze({ alphabet: 'base64url' as const, omitPadding: true as const });

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
  if (native) return (bytes as unknown as NativeBase64).toBase64(URL_ALPHABET);
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
 * The integer that the base64url characters `text[start..end)` (at most 8) spell as big-endian base-64
 * digits (the inverse of `base64urlDigits`), or -1 when one is outside the alphabet. Read in place.
 */
export function base64urlDigitsValue(text: string, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = VALUES[charCodeAt.call(text, i)];
    if (!(digit >= 0)) return -1;
    value = value * 64 + digit;
  }
  return value;
}

/**
 * `base64urlDecodeInto` for engines without their own base64: the characters are read in place (through
 * `charCodeAt.call`, which allocates nothing on XS), four at a time. `out` has room (checked by the caller).
 */
function decodeLoop(text: string, start: number, end: number, out: Uint8Array): number {
  const v = VALUES;
  const tail = (end - start) % 4;
  const fullEnd = end - tail;
  let o = 0;
  // A character of 128 or more indexes past VALUES: undefined, which `| 0` below would make 0, so test it apart.
  for (let i = start; i < fullEnd; i += 4) {
    const a = v[charCodeAt.call(text, i)], b = v[charCodeAt.call(text, i + 1)], c = v[charCodeAt.call(text, i + 2)], d = v[charCodeAt.call(text, i + 3)];
    if (!(a >= 0 && b >= 0 && c >= 0 && d >= 0)) return -1;
    const n = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = n >>> 16;
    out[o++] = n >>> 8;
    out[o++] = n;
  }
  if (tail === 2) {
    const a = v[charCodeAt.call(text, fullEnd)], b = v[charCodeAt.call(text, fullEnd + 1)];
    if (!(a >= 0 && b >= 0) || (b & 15) !== 0) return -1;
    out[o++] = (a << 2) | (b >>> 4);
  } else if (tail === 3) {
    const a = v[charCodeAt.call(text, fullEnd)], b = v[charCodeAt.call(text, fullEnd + 1)], c = v[charCodeAt.call(text, fullEnd + 2)];
    if (!(a >= 0 && b >= 0 && c >= 0) || (c & 3) !== 0) return -1;
    out[o++] = (a << 2) | (b >>> 4);
    out[o++] = ((b & 15) << 4) | (c >>> 2);
  }
  return o;
}

/** Bytes that `length` canonical base64url characters decode to, or -1 for an impossible length. */
function decodedLength(length: number): number {
  const tail = length % 4;
  return tail === 1 ? -1 : (length >> 2) * 3 + (tail === 0 ? 0 : tail - 1);
}

/**
 * Decodes `text.slice(start, end)` from strict base64url into `out` (which must have room for exactly
 * what it decodes to, no more needed); returns the bytes written, or -1 when the text is not canonical
 * unpadded base64url (see the module doc) or does not fit in `out`. Allocates no array.
 */
export function base64urlDecodeInto(text: string, start: number, end: number, out: Uint8Array): number {
  const length = decodedLength(end - start);
  if (start < 0 || end > text.length || length < 0 || length > out.length) return -1;
  if (!native) return decodeLoop(text, start, end, out);
  let written: number;
  try {
    // Lenient about padding, whitespace and unused bits: the count and the last character are checked here.
    const result = (out as unknown as NativeBase64).setFromBase64(start === 0 && end === text.length ? text : slice.call(text, start, end), URL_ALPHABET);
    if (result.read !== end - start) return -1;
    written = result.written;
  } catch {
    return -1; // a character outside the alphabet
  }
  if (written !== length) return -1; // padding or whitespace took the place of data
  const tail = (end - start) % 4;
  const last = tail === 0 ? 0 : VALUES[charCodeAt.call(text, end - 1)];
  return (tail === 2 && (last & 15) !== 0) || (tail === 3 && (last & 3) !== 0) ? -1 : written;
}

/**
 * Decodes `text.slice(start, end)` (the whole string by default) from strict base64url. Returns
 * `undefined` when the text is not canonical unpadded base64url (see the module doc).
 */
export function base64urlDecode(text: string, start = 0, end = text.length): Uint8Array | undefined {
  const length = decodedLength(end - start);
  if (length < 0 || start < 0 || end > text.length) return undefined;
  const out = new Uint8Array(length);
  return base64urlDecodeInto(text, start, end, out) === length ? out : undefined;
}

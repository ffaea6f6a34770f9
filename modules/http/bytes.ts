/** Byte helpers shared by the parser, the response writer and the test client. */
import { runtime } from '../runtime';

/** Concatenates two byte arrays (either may be empty) into a new one. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

const LATIN1_SLICE = 128;

/** Decodes bytes as Latin-1 (one char per byte): for HTTP heads, which are bytes, not UTF-8. */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  // One slice (a field value, a method, a short target): no concatenation.
  if (end - start <= LATIN1_SLICE) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  // Longer ASCII (a cookie, a long target): one native decode, where Latin-1 and UTF-8 agree.
  let ascii = true;
  for (let i = start; i < end && ascii; i++) ascii = bytes[i] < 0x80;
  if (ascii) return runtime().utf8Decode(bytes.subarray(start, end));
  let text = '';
  // apply() in slices: every argument takes a slot of the XS stack, which is 512 slots on a Moddable
  // Two (a 2048-byte slice overflowed it: a fatal abort, not an exception); engines also cap the count.
  for (let i = start; i < end; i += LATIN1_SLICE) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + LATIN1_SLICE)) as unknown as number[]);
  }
  return text;
}

/** Encodes a Latin-1/ASCII string to bytes (chars above 0xFF are not expected here). */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * True when `text` is ASCII and `test` accepts each of its bytes. The text becomes bytes in one native
 * call: on XS a `charCodeAt` per character allocates (the string is boxed on every method call).
 */
export function everyAsciiByte(text: string, test: (c: number) => boolean): boolean {
  const bytes = runtime().utf8Encode(text);
  if (bytes.length !== text.length) return false;
  for (let i = 0; i < bytes.length; i++) if (!test(bytes[i])) return false;
  return true;
}

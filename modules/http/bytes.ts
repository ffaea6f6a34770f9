/** Byte helpers shared by the parser, the response writer and the test client. */
import { runtime } from '../runtime';
import { indexOf } from './text';

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

/**
 * Decodes bytes as Latin-1 (one character a byte): for HTTP heads, which are bytes, not UTF-8. ASCII
 * (nearly every head) takes one native UTF-8 decode, where the two agree: any byte of 0x80 or more
 * would have made fewer characters or a U+FFFD. Other bytes are converted in slices.
 */
export function latin1(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const ascii = runtime().utf8Decode(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
  if (ascii.length === end - start && indexOf.call(ascii, '\uFFFD') < 0) return ascii;
  if (end - start <= LATIN1_SLICE) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  // apply() in slices: every argument takes a slot of the XS stack, which is 512 slots on a Moddable
  // Two (a 2048-byte slice overflowed it: a fatal abort, not an exception); engines also cap the count.
  // The slices are joined once: appending each to a growing string would copy it every time.
  const parts: string[] = [];
  for (let i = start; i < end; i += LATIN1_SLICE) {
    parts.push(String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + LATIN1_SLICE)) as unknown as number[]));
  }
  return parts.join('');
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

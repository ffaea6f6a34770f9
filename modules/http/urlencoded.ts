/** Percent-decoding and `application/x-www-form-urlencoded` parsing, with bounds and UTF-8 via the host. */
import { runtime } from '../runtime';
import { HttpError } from './errors';
import { MultiDict } from './multidict';

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * Decodes %XX escapes (and `+` as space when `plusIsSpace`) into a UTF-8 string.
 * Returns undefined for a malformed escape, so callers can answer 400.
 */
export function percentDecode(text: string, plusIsSpace = false): string | undefined {
  if (text.indexOf('%') < 0) return plusIsSpace && text.indexOf('+') >= 0 ? text.replace(/\+/g, ' ') : text;
  const bytes = new Uint8Array(text.length * 3);
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexValue(text.charCodeAt(i + 1));
      const lo = hexValue(text.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return undefined;
      bytes[length++] = (hi << 4) | lo;
      i += 2;
    } else if (c === 43 /* + */ && plusIsSpace) {
      bytes[length++] = 32;
    } else if (c < 0x80) {
      bytes[length++] = c;
    } else {
      const encoded = runtime().utf8Encode(text[i]);
      bytes.set(encoded, length);
      length += encoded.length;
    }
  }
  return runtime().utf8Decode(bytes.subarray(0, length));
}

export interface UrlencodedLimits {
  maxFields: number;
}

/**
 * Parses `a=1&b=2` into a MultiDict. Throws HttpError 400 for bad escapes and
 * 413 when there are more than `maxFields` fields.
 */
export function parseUrlencoded(text: string, limits: UrlencodedLimits): MultiDict {
  const dict = new MultiDict();
  if (text.length === 0) return dict;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('&', start);
    if (end < 0) end = text.length;
    if (end > start) {
      if (dict.size >= limits.maxFields) throw new HttpError(413, `More than ${limits.maxFields} form fields`);
      const pair = text.slice(start, end);
      const eq = pair.indexOf('=');
      const key = percentDecode(eq < 0 ? pair : pair.slice(0, eq), true);
      const value = eq < 0 ? '' : percentDecode(pair.slice(eq + 1), true);
      if (key === undefined || value === undefined) throw new HttpError(400, 'Malformed percent-encoding');
      dict.append(key, value);
    }
    start = end + 1;
  }
  return dict;
}

// Made on first use, not when the module loads: the XS linker refuses to preload a RegExp (Moddable
// builds preload every module into flash), and a RegExp shared from flash breaks the device's heap.
let unreserved: RegExp | undefined;

/** Encodes a value for a query string or form (spaces as %20, UTF-8 bytes as %XX). */
export function percentEncode(text: string): string {
  if ((unreserved ??= /^[A-Za-z0-9\-._~]*$/).test(text)) return text;
  const bytes = runtime().utf8Encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    const ch = String.fromCharCode(b);
    out += b < 0x80 && unreserved.test(ch) ? ch : '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return out;
}

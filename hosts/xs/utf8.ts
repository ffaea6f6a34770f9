/**
 * UTF-8 for xsnap with the WHATWG results Node gives, so core code behaves the same on both hosts.
 * XS's own TextEncoder writes lone surrogates as 3-byte (CESU-8) sequences instead of U+FFFD, and
 * its lenient TextDecoder emits a different number of U+FFFD than WHATWG for some malformed input
 * (e.g. ED A0 80 → 2 instead of 3). Its fatal decoder does reject exactly the malformed input, so
 * valid text takes the native path and only malformed bytes pay for the decoder below.
 */

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });
// Made on first use, not when the module loads: the XS linker refuses to preload a RegExp (Moddable
// builds preload every module into flash), and a RegExp shared from flash breaks the device's heap.
let loneSurrogates: RegExp | undefined;

export function utf8Encode(text: string): Uint8Array {
  const bytes = encoder.encode(text);
  // ASCII (as many bytes as characters) holds no surrogate: one native encode, as on a device.
  if (bytes.length === text.length) return bytes;
  // XS writes a lone surrogate as ED A0–BF xx (a pair becomes 4 bytes): only then replace them (no
  // RegExp run per call).
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0xed && bytes[i + 1] >= 0xa0) {
      return encoder.encode(text.replace(loneSurrogates ??= /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
    }
  }
  return bytes;
}

export function utf8Decode(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return decodeReplacing(bytes);
  }
}

/** The WHATWG UTF-8 decoder (replacement mode, BOM stripped), as in the Encoding Standard §9.1.1. */
function decodeReplacing(bytes: Uint8Array): string {
  // Pieces joined once at the end: appending each to a growing string would copy it every time.
  const parts: string[] = [];
  // UTF-16 units gathered in one small typed array and flushed 64 at a time: each argument of apply()
  // takes a slot of the XS stack (the fit engine has a device's 512, part of them in use when a
  // request's head is decoded), and an array of numbers would allocate a slot per unit.
  const units = new Uint16Array(UNITS);
  let count = 0;
  const flush = () => {
    parts.push(String.fromCharCode.apply(null, (count === UNITS ? units : units.subarray(0, count)) as unknown as number[]));
    count = 0;
  };
  const emit = (code: number) => {
    if (count >= UNITS - 1) flush();
    if (code > 0xffff) {
      units[count++] = 0xd800 + ((code - 0x10000) >> 10);
      units[count++] = 0xdc00 + ((code - 0x10000) & 0x3ff);
    } else {
      units[count++] = code;
    }
  };
  const end = bytes.length;
  let i = end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < end) {
    const lead = bytes[i++];
    if (lead < 0x80) {
      emit(lead);
      continue;
    }
    let needed: number;
    let code: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) {
      needed = 1;
      code = lead & 0x1f;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      needed = 2;
      code = lead & 0x0f;
      if (lead === 0xe0) lower = 0xa0; // overlong
      if (lead === 0xed) upper = 0x9f; // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      needed = 3;
      code = lead & 0x07;
      if (lead === 0xf0) lower = 0x90; // overlong
      if (lead === 0xf4) upper = 0x8f; // above U+10FFFF
    } else {
      emit(0xfffd);
      continue;
    }
    let seen = 0;
    while (seen < needed && i < end && bytes[i] >= lower && bytes[i] <= upper) {
      code = (code << 6) | (bytes[i++] & 0x3f);
      lower = 0x80;
      upper = 0xbf;
      seen++;
    }
    // A byte that broke the sequence is not consumed: it starts the next one.
    emit(seen === needed ? code : 0xfffd);
  }
  flush();
  return parts.join('');
}

const UNITS = 64;

/**
 * HS256 JSON Web Tokens (RFC 7519), as xsdot's signed session cookies, interoperable with microdot and
 * PyJWT: a token PyJWT makes with the same key verifies here, and for the same payload (and kid) both
 * produce the identical string.
 *
 * Verification is strict and cheap, and never throws on hostile input; see `verifyToken` for the order
 * of checks.
 */
import { runtime, type CryptoProvider } from '../runtime';
import { base64urlDecode, base64urlDecodeInto, base64urlEncodeInto, base64urlLength } from '../crypto/base64url';
import { indexOf, startsWith } from '../http/text';
import { HmacSha256Key } from '../crypto/hmac';
import { constantTimeEqual } from '../crypto/compare';

/** Shortest key accepted, in bytes: HS256 keys must be at least as long as the hash (RFC 7518 §3.2). */
export const MIN_KEY_BYTES = 32;
/** Most keys without a `kid` one ring may hold; a token without `kid` is tried against each of them. */
export const MAX_KIDLESS_KEYS = 2;
/** Default cap on a token's length, in characters (a cookie's value must fit in a request head anyway). */
export const DEFAULT_MAX_LENGTH = 1024;
/** Default clock skew tolerated for `exp` and `nbf`, in seconds. */
export const DEFAULT_LEEWAY = 5;
/** Verified tokens a ring remembers by default (`KeyRingOptions.cacheSize`), and the most it may. */
export const DEFAULT_CACHE_SIZE = 4;
export const MAX_CACHE_SIZE = 32;

/**
 * `size` (undefined: `DEFAULT_CACHE_SIZE`) when it is an integer from 0 to `MAX_CACHE_SIZE`; else throws a
 * RangeError naming `option`, e.g. "a JWT key ring's cacheSize".
 */
export function checkCacheSize(size: number | undefined, option: string): number {
  const checked = size ?? DEFAULT_CACHE_SIZE;
  if (!(Number.isInteger(checked) && checked >= 0 && checked <= MAX_CACHE_SIZE)) {
    throw new RangeError(`xsdot: ${option} must be an integer from 0 to ${MAX_CACHE_SIZE}`);
  }
  return checked;
}
const DOT = 0x2e;
/** Bytes of an HS256 signature, and its characters in base64url. */
const SIGNATURE_BYTES = 32;
const SIGNATURE_CHARS = 43;

/** One signing key: at least `MIN_KEY_BYTES` random bytes, with an optional key id for rotation. */
export interface JwtKey {
  kid?: string;
  key: Uint8Array;
}

export interface KeyRingOptions {
  /** The crypto to use; default `runtime().crypto`, looked up at each use. */
  provider?: CryptoProvider;
  /**
   * Write `"typ":"JWT"` in the header, as PyJWT does by default (its tokens are then byte-identical to
   * ours). Default false: `typ` is optional (RFC 7519 §5.1) and costs 16 cookie bytes; PyJWT makes the
   * same compact header with `headers={"typ": None}` and verifies either.
   */
  typ?: boolean;
  /**
   * How many verified tokens the ring remembers, as Envoy's jwt_authn `jwt_cache_size` does, so a cookie
   * sent again (every request of a signed-in browser) skips its HMAC: 0 to `MAX_CACHE_SIZE`, default
   * `DEFAULT_CACHE_SIZE`; the oldest is forgotten first. Each entry keeps the token's text (about 150
   * bytes for a session cookie on XS; on V8 a cookie string may keep its whole request head alive until
   * the entry is replaced) and its 32-byte MAC. Only the MAC check is skipped: a remembered token's
   * header, payload and `exp`/`nbf` are checked on every use. Only a live token is remembered: one that
   * passed every check, its `exp` not past even when the caller checks expiry itself (`verifyExp: false`).
   * A client learns nothing of the contents of tokens it does not hold; one that fills the cache with its
   * own tokens can tell from its answers' times whether others' were verified since, as from any load.
   * Throws a RangeError outside the bounds.
   */
  cacheSize?: number;
}

/**
 * The keys that sign and verify tokens. The first key signs — always, so a rotated-out key can never
 * sign (unlike Flask 3.1.0, CVE-2025-47278) — and every key verifies.
 *
 * Key selection is by the token's `kid` header:
 * - a token with a `kid` is checked against exactly the key with that kid; an unknown kid is rejected;
 * - a token without `kid` (as microdot and PyJWT make them) is checked only against the keys given
 *   without a kid, in ring order. Giving a key without a kid is how a ring accepts kid-less tokens; a
 *   ring may hold at most `MAX_KIDLESS_KEYS` of them (current + previous), so a forged kid-less token
 *   costs at most that many HMACs. A ring whose keys all have kids rejects kid-less tokens.
 *
 * To rotate: put the new key first and keep the old one after it until the old tokens have expired.
 * To migrate from a microdot secret: `[{ kid: 'k1', key: fresh }, { key: microdotSecret }]`.
 * The constructor throws on a short key, a duplicate or empty kid, too many kid-less keys or no keys.
 * Key bytes are copied.
 */
export class KeyRing {
  /** The first segment of every token this ring signs: the encoded header. */
  readonly signingHeader: string;
  /** `signingHeader` as bytes: tokens are assembled and recognised as bytes. */
  readonly #headerChars: Uint8Array;
  /** The decoded header, for tokens that carry exactly `signingHeader` (no JSON.parse per request). */
  readonly #header: Readonly<JwtHeader>;
  /** The MAC of the signing key (the first key). */
  readonly signingKey: HmacSha256Key;
  readonly #byKid = new Map<string, readonly HmacSha256Key[]>();
  readonly #kidless: HmacSha256Key[] = [];
  /** Scratch for a token's decoded signature, compared with the computed MAC; and as 8 words. */
  readonly #signature = new Uint8Array(SIGNATURE_BYTES);
  readonly #signatureWords = new Int32Array(this.#signature.buffer);
  /** Remembered verified tokens (`cacheSize`), and their MACs as 8 words each; `#nextSlot` is the oldest. */
  readonly #verified: (string | undefined)[];
  readonly #verifiedMacs: Int32Array;
  #nextSlot = 0;

  constructor(keys: readonly JwtKey[], options: KeyRingOptions = {}) {
    if (keys.length === 0) throw new Error('xsdot: a JWT key ring needs at least one key');
    const cacheSize = checkCacheSize(options.cacheSize, "a JWT key ring's cacheSize");
    this.#verified = new Array<string | undefined>(cacheSize).fill(undefined);
    this.#verifiedMacs = new Int32Array(cacheSize * 8);
    const macs: HmacSha256Key[] = [];
    for (const { kid, key } of keys) {
      const name = kid === undefined ? 'a JWT key' : `JWT key "${kid}"`;
      if (!(key instanceof Uint8Array)) throw new TypeError(`xsdot: ${name} must be a Uint8Array`);
      if (key.length < MIN_KEY_BYTES) {
        throw new Error(`xsdot: ${name} is ${key.length} bytes; HS256 keys must be at least ${MIN_KEY_BYTES} bytes`);
      }
      const mac = new HmacSha256Key(key.slice(), options.provider);
      macs.push(mac);
      if (kid === undefined) {
        this.#kidless.push(mac);
      } else {
        if (typeof kid !== 'string' || kid === '') throw new Error('xsdot: a JWT kid must be a non-empty string');
        if (this.#byKid.has(kid)) throw new Error(`xsdot: duplicate JWT kid "${kid}"`);
        this.#byKid.set(kid, [mac]);
      }
    }
    if (this.#kidless.length > MAX_KIDLESS_KEYS) {
      throw new Error(`xsdot: a JWT key ring may hold at most ${MAX_KIDLESS_KEYS} keys without a kid`);
    }
    this.signingKey = macs[0];
    // PyJWT's header for the same kid: keys sorted, compact separators.
    const kid = keys[0].kid;
    const header: JwtHeader = kid === undefined ? { alg: 'HS256' } : { alg: 'HS256', kid };
    if (options.typ) header.typ = 'JWT';
    this.#header = Object.freeze(header);
    this.#headerChars = encodeJson(this.#header);
    this.signingHeader = runtime().utf8Decode(this.#headerChars);
  }

  /** @internal The encoded signing header, as bytes. */
  get headerChars(): Uint8Array {
    return this.#headerChars;
  }

  /** @internal The signing header when `token[0..end)` is exactly `signingHeader`, else undefined. */
  knownHeader(token: string, end: number): Readonly<JwtHeader> | undefined {
    return end === this.#headerChars.length && startsWith.call(token, this.signingHeader) ? this.#header : undefined;
  }

  /**
   * @internal Decodes the signature `token[at..end)` (`end` the token's length) into the ring's scratch:
   * the 32 bytes, or undefined when they are not 43 canonical base64url characters.
   */
  signatureOf(token: string, at: number, end: number): Uint8Array | undefined {
    return end - at === SIGNATURE_CHARS && base64urlDecodeInto(token, at, end, this.#signature) === SIGNATURE_BYTES ? this.#signature : undefined;
  }

  /**
   * @internal True when `token` verified under this ring before and is still remembered. The signature in
   * the scratch (`signatureOf`) is compared with every remembered MAC in constant time, and the token's
   * text only with the one it matches: the time taken tells a client nothing of the contents of tokens it
   * does not hold.
   */
  verifiedBefore(token: string): boolean {
    const macs = this.#verifiedMacs;
    const s = this.#signatureWords;
    const s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], s4 = s[4], s5 = s[5], s6 = s[6], s7 = s[7];
    let match = -1;
    for (let w = 0; w < macs.length; w += 8) {
      const diff = (macs[w] ^ s0) | (macs[w + 1] ^ s1) | (macs[w + 2] ^ s2) | (macs[w + 3] ^ s3)
        | (macs[w + 4] ^ s4) | (macs[w + 5] ^ s5) | (macs[w + 6] ^ s6) | (macs[w + 7] ^ s7);
      if (diff === 0) match = w >> 3;
    }
    return match >= 0 && this.#verified[match] === token;
  }

  /** @internal Remembers `token`, whose signature (in the scratch) has just verified, in place of the oldest. */
  remember(token: string): void {
    const size = this.#verified.length;
    if (size === 0) return;
    const slot = this.#nextSlot;
    this.#verified[slot] = token;
    this.#verifiedMacs.set(this.#signatureWords, slot * 8);
    this.#nextSlot = slot + 1 === size ? 0 : slot + 1;
  }

  /** The keys a token with this `kid` header (undefined: none) may verify against; empty when none may. */
  keysFor(kid: string | undefined): readonly HmacSha256Key[] {
    return kid === undefined ? this.#kidless : this.#byKid.get(kid) ?? NO_KEYS;
  }
}

const NO_KEYS: readonly HmacSha256Key[] = Object.freeze([]);

/**
 * JSON as PyJWT writes it (`json.dumps(…, separators=(",", ":"))`, ensure_ascii), as UTF-8 bytes:
 * compact, with every character outside U+0020–U+007E escaped as lowercase `\uXXXX`, so tokens are
 * ASCII. Strings, safe integers, booleans, null, arrays and objects come out byte-identical to Python's;
 * non-integer numbers may be spelled differently (Python writes `1.0` and `1e+16`, JavaScript `1` and
 * `10000000000000000`). The common all-ASCII case is one native encode and a byte scan.
 */
function asciiJson(value: unknown): Uint8Array {
  const json = JSON.stringify(value);
  const bytes = runtime().utf8Encode(json);
  let i = 0;
  while (i < bytes.length && bytes[i] <= 0x7e) i++;
  if (i === bytes.length) return bytes;
  let out = '';
  for (let k = 0; k < json.length; k++) {
    const code = json.charCodeAt(k);
    out += code <= 0x7e ? json[k] : '\\u' + (code + 0x10000).toString(16).slice(1);
  }
  return runtime().utf8Encode(out);
}

/** One token segment: `asciiJson(value)`, base64url-encoded, as bytes. */
function encodeJson(value: unknown): Uint8Array {
  const json = asciiJson(value);
  const out = new Uint8Array(base64urlLength(json.length));
  base64urlEncodeInto(json, out, 0);
  return out;
}


/**
 * Signs `payload` (a plain object) with the ring's first key. The header is `{"alg":"HS256"}`, or
 * `{"alg":"HS256","kid":…}` when that key has a kid, each with `"typ":"JWT"` last when the ring was made
 * with `typ: true`. Throws a TypeError when `payload`
 * is not an object (or is an array), and whatever `JSON.stringify` throws (cycles, BigInt).
 */
export function signToken(payload: object, ring: KeyRing): string {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new TypeError('xsdot: a JWT payload must be a JSON object');
  }
  // Assembled as bytes in one buffer (header, payload, MAC) and made a string once.
  const header = ring.headerChars;
  const json = asciiJson(payload);
  const inputLength = header.length + 1 + base64urlLength(json.length);
  const token = new Uint8Array(inputLength + 1 + SIGNATURE_CHARS);
  token.set(header, 0);
  token[header.length] = DOT;
  base64urlEncodeInto(json, token, header.length + 1);
  token[inputLength] = DOT;
  base64urlEncodeInto(ring.signingKey.sign(token.subarray(0, inputLength)), token, inputLength + 1);
  return runtime().utf8Decode(token);
}

export interface VerifyOptions {
  /** Longest token accepted, in characters (default `DEFAULT_MAX_LENGTH`). */
  maxLength?: number;
  /** Seconds of clock skew tolerated for `exp` and `nbf` (default `DEFAULT_LEEWAY`). */
  leeway?: number;
  /** The current time, in seconds since the epoch (default `runtime().now() / 1000`). */
  now?: number;
  /**
   * Compare `exp` with the clock (default true; PyJWT's `verify_exp`). False leaves it to the caller,
   * who still gets only a numeric `exp`: Session tells an idle session from an expired one this way.
   */
  verifyExp?: boolean;
}

/** A verified token's header: `alg` is always "HS256". */
export interface JwtHeader {
  alg: 'HS256';
  typ?: 'JWT';
  kid?: string;
  [name: string]: unknown;
}

export type JwtPayload = Record<string, unknown>;

/**
 * Why a token was rejected:
 * - `length`: not a string, or longer than `maxLength`;
 * - `format`: not three non-empty dot-separated parts of strict base64url, or a header that is not a
 *   small JSON object;
 * - `alg`: header `alg` missing or not exactly "HS256";
 * - `header`: a member other than `alg`, `kid`, `typ`, `crit` (names are checked before parsing), `typ`
 *   other than "JWT", a `crit` header, or a `kid` that is not a string;
 * - `kid`: no key in the ring for the token's kid (or for kid-less tokens);
 * - `signature`: the signature is not 32 bytes or does not match;
 * - `payload`: the (authentic) payload is not a JSON object, or `exp`/`nbf` is not a number;
 * - `expired`: `exp <= now - leeway`; `not-yet-valid`: `nbf > now + leeway` (PyJWT's rules).
 */
export type VerifyFailure =
  | 'length' | 'format' | 'alg' | 'header' | 'kid' | 'signature' | 'payload' | 'expired' | 'not-yet-valid';

export type VerifyResult =
  | { ok: true; header: JwtHeader; payload: JwtPayload }
  | { ok: false; reason: VerifyFailure };

/**
 * Verifies an HS256 token against `ring`. Never throws: returns `{ok: true, header, payload}` or
 * `{ok: false, reason}`.
 *
 * Order of checks, cheapest and least trusting first:
 * 1. length cap; exactly three non-empty parts; all three strict base64url; signature 32 bytes;
 * 2. the header, still untrusted (its `kid` is needed to choose the key): held to at most two `{`/`[`
 *    bytes before `JSON.parse`, so hostile nesting cannot exhaust a device's stack, and to the member
 *    names `alg`, `kid`, `typ`, `crit`, so hostile names cannot fill XS's key table; must be an object
 *    with `alg` "HS256", `typ` absent or "JWT", no `crit`, and `kid` absent or a string;
 * 3. key selection by `kid` (see `KeyRing`), then HMAC over the token's `header.payload` text, compared
 *    in constant time, unless the ring remembers this very token as verified (`KeyRingOptions.cacheSize`);
 * 4. only then the payload: a JSON object, with `exp`/`nbf` checked when present.
 */
export function verifyToken(token: string, ring: KeyRing, options: VerifyOptions = {}): VerifyResult {
  // The length read once: on XS a string's `length` boxes it (2 slots) each time.
  const length = typeof token === 'string' ? token.length : -1;
  if (length < 0 || length > (options.maxLength ?? DEFAULT_MAX_LENGTH)) return fail('length');
  // Native string searches and decodes (http/text.ts): a loop over the token's bytes is slow on XS.
  const dot1 = indexOf.call(token, '.');
  const dot2 = dot1 < 0 ? -1 : indexOf.call(token, '.', dot1 + 1);
  if (dot1 < 1 || dot2 < dot1 + 2 || dot2 === length - 1 || indexOf.call(token, '.', dot2 + 1) >= 0) {
    return fail('format');
  }
  const payloadBytes = base64urlDecode(token, dot1 + 1, dot2);
  // The signature is decoded into the ring's scratch and compared with the computed MAC below.
  const signature = ring.signatureOf(token, dot2 + 1, length);
  // A token carrying exactly the ring's own header (the common case) needs no header parse.
  let header: Readonly<JwtHeader> | Record<string, unknown> | undefined = ring.knownHeader(token, dot1);
  const headerBytes = header === undefined ? base64urlDecode(token, 0, dot1) : undefined;
  if ((header === undefined && headerBytes === undefined) || payloadBytes === undefined) return fail('format');
  if (signature === undefined) return fail(base64urlDecode(token, dot2 + 1, length) === undefined ? 'format' : 'signature');

  if (headerBytes !== undefined) {
    if (nestingBytes(headerBytes) > 2) return fail('format');
    if (!knownMemberNames(headerBytes)) return fail('header');
    header = parseObject(headerBytes);
    if (header === undefined) return fail('format');
  }
  const checked = header as Record<string, unknown>;
  if (checked.alg !== 'HS256') return fail('alg');
  const { kid } = checked;
  if ((checked.typ !== undefined && checked.typ !== 'JWT') || checked.crit !== undefined
    || (kid !== undefined && typeof kid !== 'string')) return fail('header');

  const keys = ring.keysFor(kid);
  if (keys.length === 0) return fail('kid');
  const known = ring.verifiedBefore(token);
  if (!known) {
    // The MAC is over the token's characters as sent (ASCII: base64url and dots were checked).
    const signingInput = runtime().utf8Encode(token).subarray(0, dot2);
    let authentic = false;
    for (let i = 0; i < keys.length && !authentic; i++) authentic = constantTimeEqual(keys[i].sign(signingInput), signature);
    if (!authentic) return fail('signature');
  }

  const payload = parseObject(payloadBytes);
  if (payload === undefined) return fail('payload');
  const { exp, nbf } = payload;
  if (!optionalNumber(exp) || !optionalNumber(nbf)) return fail('payload');
  const now = options.now ?? runtime().now() / 1000;
  const leeway = options.leeway ?? DEFAULT_LEEWAY;
  if (exp !== undefined && options.verifyExp !== false && exp <= now - leeway) return fail('expired');
  if (nbf !== undefined && nbf > now + leeway) return fail('not-yet-valid');
  // Remembered only once it passed every check here, and live even where the caller judges expiry (an
  // expired cookie sent again and again must not churn the cache). The signature scratch is unchanged since.
  if (!known && (exp === undefined || exp > now - leeway)) ring.remember(token);
  return { ok: true, header: checked as JwtHeader, payload };
}

function fail(reason: VerifyFailure): VerifyResult {
  return { ok: false, reason };
}

function optionalNumber(value: unknown): value is number | undefined {
  return value === undefined || (typeof value === 'number' && Number.isFinite(value));
}

/** How many `{` and `[` bytes there are: a bound on how deeply the JSON can nest. */
function nestingBytes(bytes: Uint8Array): number {
  let count = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x7b || bytes[i] === 0x5b) count++;
  return count;
}

/** The header members verifyToken reads; a header naming any other member is refused unparsed. */
const HEADER_MEMBERS: readonly string[] = Object.freeze(['alg', 'kid', 'typ', 'crit']);

/**
 * True when every member name of the (untrusted) header JSON is one of HEADER_MEMBERS, spelled without
 * escapes. XS interns every property name JSON.parse meets (even one a syntax error follows) and never
 * collects it: parsing names an attacker chose, before the MAC is checked, would grow a device's key
 * table by one slot (plus the name's bytes) per name and request, until XS aborts. A member name is a
 * string right after `{` or `,` inside an object; the scan agrees with JSON.parse up to the first
 * syntax error, where JSON.parse stops.
 */
function knownMemberNames(bytes: Uint8Array): boolean {
  /** Open containers, innermost last: true for an object. */
  const objects: boolean[] = [];
  let previous = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    if (c === 0x7b || c === 0x5b) objects.push(c === 0x7b);
    else if (c === 0x7d || c === 0x5d) objects.pop();
    if (c !== 0x22) {
      previous = c;
      continue;
    }
    const start = i + 1;
    let escaped = false;
    for (i = start; i < bytes.length && bytes[i] !== 0x22; i++) {
      if (bytes[i] === 0x5c) {
        escaped = true;
        i++;
      }
    }
    const isName = objects.length > 0 && objects[objects.length - 1] && (previous === 0x7b || previous === 0x2c);
    if (isName && (escaped || !isHeaderMember(bytes, start, i))) return false;
    previous = 0x22;
  }
  return true;
}

function isHeaderMember(bytes: Uint8Array, start: number, end: number): boolean {
  for (const name of HEADER_MEMBERS) {
    if (end - start !== name.length) continue;
    let same = true;
    for (let k = 0; k < name.length && same; k++) same = bytes[start + k] === name.charCodeAt(k);
    if (same) return true;
  }
  return false;
}

/** UTF-8 JSON text → a plain object, or undefined when it is not JSON or not an object. */
function parseObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(runtime().utf8Decode(bytes));
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

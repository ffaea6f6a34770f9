/**
 * Password hashing with PBKDF2-HMAC-SHA256 (RFC 8018 §5.2) and a password store in the host key store.
 *
 *     const passwords = new PasswordStore();            // DEFAULT_ITERATIONS, runtime().store
 *     passwords.set('admin', 'correct horse battery');  // throws PasswordError with a user-facing message
 *     passwords.verify('admin', guess);                 // true or false, in constant time
 *
 * A record is one string, `pbkdf2-sha256$<iterations>$<salt>$<hash>` (salt: 16 random bytes, hash: 32
 * bytes, both base64url), kept under `pw.<user>` (NVS keys are at most 15 characters, so user names are
 * at most 12). Each record names its own iteration count, so changing the default later leaves stored
 * passwords valid.
 */
import { runtime, type KeyValueStore } from '../runtime';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url';
import { constantTimeEqual } from '../crypto/compare';
import { HmacSha256Key } from '../crypto/hmac';

/**
 * Default PBKDF2 iterations: 3 000, so that a login costs about a second on an ESP32.
 *
 * Measured per 1000 iterations (32-byte key, one AMD EPYC core): Node 20 through this code with
 * node:crypto's HMAC 6.6 ms (node's own pbkdf2Sync: 0.17 ms); the Moddable XS build for Linux
 * (x-cli-lin) with the SDK's native `Digest` 6.7 ms (a 100 000-iteration login took 0.67 s); bare XS
 * (xsnap 13.3) with the pure-TS SHA-256 164 ms. On Moddable the time goes to the XS calls around the
 * native hashes (four 64-byte blocks per iteration, ~1 µs of it), so a 240 MHz ESP32, which runs the
 * XS interpreter some 30–80× slower than that core, should take 0.2–0.55 ms per iteration: 3 000
 * iterations ≈ 0.6–1.6 s, during which the single-threaded server answers nothing else. (To be
 * confirmed on a device.) 3 000 is 3× the minimum of NIST SP 800-132 and far below OWASP's 600 000 for
 * servers, which a microcontroller cannot afford: the hash is protected mainly by never leaving the
 * device, and online guessing by the login throttle. Every record names its own count, so changing the
 * default later keeps stored passwords valid; hosts with more CPU may pass a higher count.
 */
export const DEFAULT_ITERATIONS = 3_000;
/** Highest iteration count accepted (a corrupt or hostile record must not stall the device for hours). */
export const MAX_ITERATIONS = 5_000_000;
export const MIN_PASSWORD_LENGTH = 8;
/**
 * Longest password in characters (code points), when set and when checked: a longer guess is refused
 * before PBKDF2, so at most 256 UTF-8 bytes (64 × 4) ever reach the hash — an HMAC key over 64 bytes is
 * hashed again on each of the thousands of iterations on hosts with a native HMAC, and a 60 KB password
 * cost ~7 logins' worth of CPU.
 */
export const MAX_PASSWORD_LENGTH = 64;
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const SCHEME = 'pbkdf2-sha256';
const STORE_PREFIX = 'pw.';
// Made on first use, not when the module loads: the XS linker refuses to preload a RegExp (Moddable
// builds preload every module into flash), and a RegExp shared from flash breaks the device's heap.
let userName: RegExp | undefined;

/** A password that breaks the rules; `message` is written for the person choosing it. */
export class PasswordError extends Error {
  // Defined as a field, not assigned: see HttpError.name.
  override readonly name = 'PasswordError';
}

/**
 * PBKDF2 with HMAC-SHA256 as the PRF: `length` bytes derived from `password` and `salt`. Uses the
 * runtime's HMAC (native where the host has one). Throws RangeError for bad parameters.
 */
export function pbkdf2Sha256(password: Uint8Array, salt: Uint8Array, iterations: number, length = HASH_BYTES): Uint8Array {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('xsdot: PBKDF2 iterations must be a positive integer');
  if (!Number.isInteger(length) || length < 1 || length > 1024) throw new RangeError('xsdot: PBKDF2 length must be 1–1024 bytes');
  const prf = new HmacSha256Key(password);
  const out = new Uint8Array(length);
  const first = new Uint8Array(salt.length + 4);
  first.set(salt);
  for (let block = 1, offset = 0; offset < length; block++, offset += 32) {
    // U1 = PRF(P, S || INT(i)); T = U1 ^ U2 ^ … ^ Uc with Uj = PRF(P, Uj-1).
    first[salt.length] = block >>> 24;
    first[salt.length + 1] = block >>> 16;
    first[salt.length + 2] = block >>> 8;
    first[salt.length + 3] = block;
    let u = prf.sign(first);
    const t = u.slice();
    for (let j = 1; j < iterations; j++) {
      u = prf.sign(u);
      for (let k = 0; k < 32; k++) t[k] ^= u[k];
    }
    out.set(t.subarray(0, Math.min(32, length - offset)), offset);
  }
  return out;
}

/** The number of characters (Unicode code points) in `text`. */
function codePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A low surrogate after a high one completes the same character.
    if (!(c >= 0xdc00 && c <= 0xdfff && i > 0 && (text.charCodeAt(i - 1) & 0xfc00) === 0xd800)) count++;
  }
  return count;
}

/** True when `password` is longer than any password can be (checked before counting, so a huge one is cheap). */
function tooLong(password: string): boolean {
  // A code point is one or two UTF-16 units: over 2 × the limit in units is over the limit in characters.
  return password.length > MAX_PASSWORD_LENGTH && (password.length > 2 * MAX_PASSWORD_LENGTH || codePoints(password) > MAX_PASSWORD_LENGTH);
}

/** Why `password` cannot be used (a sentence to show the user), or undefined when it is acceptable. */
export function passwordProblem(password: string): string | undefined {
  const length = codePoints(password);
  if (length < MIN_PASSWORD_LENGTH) return `The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`;
  if (length > MAX_PASSWORD_LENGTH) return `The password must be at most ${MAX_PASSWORD_LENGTH} characters long.`;
  return undefined;
}

/** A new record for `password` with a fresh random salt. Throws PasswordError when it breaks the length rules. */
export function hashPassword(password: string, iterations = DEFAULT_ITERATIONS): string {
  const problem = passwordProblem(password);
  if (problem !== undefined) throw new PasswordError(problem);
  checkIterations(iterations);
  const salt = runtime().randomBytes(SALT_BYTES);
  const hash = pbkdf2Sha256(runtime().utf8Encode(password), salt, iterations);
  return `${SCHEME}$${iterations}$${base64urlEncode(salt)}$${base64urlEncode(hash)}`;
}

interface ParsedRecord {
  iterations: number;
  salt: Uint8Array;
  hash: Uint8Array;
}

function parseRecord(record: string | undefined): ParsedRecord | undefined {
  const parts = record?.split('$');
  if (parts === undefined || parts.length !== 4 || parts[0] !== SCHEME || !/^[1-9][0-9]{0,6}$/.test(parts[1])) return undefined;
  const iterations = Number(parts[1]);
  const salt = base64urlDecode(parts[2]);
  const hash = base64urlDecode(parts[3]);
  if (iterations > MAX_ITERATIONS || salt === undefined || hash === undefined || hash.length < 16 || hash.length > 64) return undefined;
  return { iterations, salt, hash };
}

function checkIterations(iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(`xsdot: PBKDF2 iterations must be an integer from 1 to ${MAX_ITERATIONS}`);
  }
}

/** False at once for a password over MAX_PASSWORD_LENGTH: it was never settable, and hashing it costs more. */
function matches(password: string, record: ParsedRecord): boolean {
  if (tooLong(password)) return false;
  const hash = pbkdf2Sha256(runtime().utf8Encode(password), record.salt, record.iterations, record.hash.length);
  return constantTimeEqual(hash, record.hash);
}

/** True when `password` matches `record` (made by `hashPassword`); false for a malformed record. */
export function verifyPassword(password: string, record: string): boolean {
  const parsed = parseRecord(record);
  return parsed !== undefined && matches(password, parsed);
}

export interface PasswordStoreOptions {
  /** PBKDF2 iterations for passwords set from now on (default DEFAULT_ITERATIONS). */
  iterations?: number;
  /** Where records live; default `runtime().store`, looked up at each use. */
  store?: KeyValueStore;
}

/** Password records by user name in a key/value store. */
export class PasswordStore {
  readonly iterations: number;
  readonly #store: KeyValueStore | undefined;

  constructor(options: PasswordStoreOptions = {}) {
    this.iterations = options.iterations ?? DEFAULT_ITERATIONS;
    checkIterations(this.iterations);
    this.#store = options.store;
  }

  /** True when `user` has a (well-formed) password record. */
  has(user: string): boolean {
    return parseRecord(this.#read(user)) !== undefined;
  }

  /** Sets `user`'s password. Throws PasswordError (length rules) or TypeError (a user name the store cannot key). */
  set(user: string, password: string): void {
    const key = storeKey(user);
    if (key === undefined) throw new TypeError('xsdot: user names are 1–12 characters of a-z 0-9 _ . -');
    const record = hashPassword(password, this.iterations);
    (this.#store ?? runtime().store).set(key, record);
  }

  /**
   * True when `password` is `user`'s password. An unknown user costs the same PBKDF2 as a known one, so
   * timing does not tell which user names exist. Never throws on hostile input.
   */
  verify(user: string, password: string): boolean {
    const record = parseRecord(this.#read(user));
    if (record !== undefined) return matches(password, record);
    if (tooLong(password)) return false;
    pbkdf2Sha256(runtime().utf8Encode(password), new Uint8Array(SALT_BYTES), this.iterations);
    return false;
  }

  /** Removes `user`'s password (a factory reset; the app then asks for setup again). */
  delete(user: string): void {
    const key = storeKey(user);
    if (key !== undefined) (this.#store ?? runtime().store).delete(key);
  }

  #read(user: string): string | undefined {
    const key = storeKey(user);
    return key === undefined ? undefined : (this.#store ?? runtime().store).get(key);
  }
}

function storeKey(user: string): string | undefined {
  return (userName ??= /^[a-z0-9_.-]{1,12}$/).test(user) ? STORE_PREFIX + user : undefined;
}

/**
 * Device cookies (OWASP's defence against login lockout): after a successful login the browser gets a
 * long-lived signed cookie naming the user, `<id>.<mac>` (a random 9-byte id, the first 16 bytes of
 * HMAC(key, "device" + user + "." + id), base64url: 35 characters). A later login attempt that presents
 * a valid one for the user it names proves the browser signed in as that user before, and is throttled
 * by its own entry (key `d:<id>`), apart from the addresses flooding the login form: a flood can neither
 * lock that browser out nor use its budget. The cookie grants nothing else — it is not a session.
 *
 *     const devices = DeviceCookies.derive(sessions.keyRing.signingKey);
 *     const id = devices.verify(request.cookieValues(DEVICE_COOKIE), username);  // undefined: untrusted
 *     response.setCookie(DEVICE_COOKIE, devices.issue(username), devices.cookieOptions);
 */
import { runtime } from '../runtime';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url';
import { constantTimeEqual } from '../crypto/compare';
import { HmacSha256Key } from '../crypto/hmac';
import type { CookieOptions } from '../http/cookies';

/** The cookie's name. */
export const DEVICE_COOKIE = 'xsdot_device';
/** Its lifetime: a year, in seconds. */
export const DEVICE_COOKIE_MAX_AGE = 365 * 24 * 3600;
const ID_BYTES = 9;
const MAC_BYTES = 16;
const LENGTH = 35;

export class DeviceCookies {
  readonly #key: HmacSha256Key;
  /** Sent only to the login form (`Path=/login`), `HttpOnly`, `SameSite=Strict`, a year. */
  readonly cookieOptions: CookieOptions;

  /** `key`: at least 32 secret bytes used for nothing else; `secure`: add `Secure` (behind TLS). */
  constructor(key: Uint8Array, secure = false) {
    if (key.length < 32) throw new RangeError('xsdot: a device cookie key needs at least 32 bytes');
    this.#key = new HmacSha256Key(key);
    this.cookieOptions = Object.freeze({ path: '/login', httpOnly: true, sameSite: 'Strict', secure, maxAge: DEVICE_COOKIE_MAX_AGE });
  }

  /** Cookies under a key derived from another secret key (e.g. the session signing key), apart from its other uses. */
  static derive(secret: HmacSha256Key, secure = false): DeviceCookies {
    return new DeviceCookies(secret.sign(runtime().utf8Encode('xsdot device cookie key')), secure);
  }

  /** A new cookie value for a browser that just signed in as `user`. */
  issue(user: string): string {
    const id = base64urlEncode(runtime().randomBytes(ID_BYTES));
    return `${id}.${base64urlEncode(this.#mac(user, id))}`;
  }

  /**
   * The throttle key (`d:<id>`) of the first of `values` that is a valid cookie for `user`, else
   * undefined. Never throws; compared in constant time.
   */
  verify(values: readonly string[], user: string): string | undefined {
    for (const value of values) {
      if (value.length !== LENGTH || value[12] !== '.') continue;
      const id = value.slice(0, 12);
      const mac = base64urlDecode(value.slice(13));
      if (mac !== undefined && base64urlDecode(id) !== undefined && constantTimeEqual(mac, this.#mac(user, id))) return `d:${id}`;
    }
    return undefined;
  }

  #mac(user: string, id: string): Uint8Array {
    return this.#key.sign(runtime().utf8Encode(`device${user}.${id}`)).subarray(0, MAC_BYTES);
  }
}

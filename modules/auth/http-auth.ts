/**
 * HTTP authentication for scripts and API clients, in microdot's `BasicAuth` / `TokenAuth` shape:
 *
 *     const auth = new TokenAuth();                       // Authorization: Bearer <token> (RFC 6750)
 *     auth.authenticate((request, token) => credentialsMatch(token, apiToken) ? { name: 'script' } : undefined);
 *     app.get('/api/status', auth.required((request, user) => ({ user: user.name })));
 *
 *     const basic = new BasicAuth({ realm: 'device' });    // Authorization: Basic base64(user:password) (RFC 7617)
 *     basic.authenticate((request, username, password) => (passwords.verify(username, password) ? username : undefined));
 *
 * A request without credentials gets 401 with a `WWW-Authenticate` challenge (RFC 9110 §11.6.1). Wrong,
 * malformed (bad base64, no colon, control characters, not UTF-8, a repeated header) or oversized
 * credentials (over `maxLength` characters) also get 401 — never 500 — and count as a failed guess in a
 * throttle (throttle.ts, as the login form: per address, plus a budget shared by all addresses); a client
 * that must wait gets 429 with `Retry-After`, before its credentials are even read. Pass the login form's
 * `Throttle` as `throttle` so that guessing through HTTP auth buys no extra tries. The errors are
 * HttpErrors carrying their headers, so the app's error handlers render them.
 *
 * The authenticate callback decides; compare secrets in it with `credentialsMatch` (constant time), or
 * `PasswordStore.verify` (PBKDF2: BasicAuth sends the password with every request, and each costs a
 * password check, about a second on an ESP32 at the default iterations: prefer TokenAuth for scripts).
 */
import { runtime } from '../runtime';
import { base64urlDecode } from '../crypto/base64url';
import { constantTimeEqual } from '../crypto/compare';
import { isThenable, type Handler } from '../http/app';
import { HttpError } from '../http/errors';
import type { Request } from '../http/request';
import type { HandlerResult } from '../http/response';
import { clientKey, Throttle } from './throttle';

/** Longest credentials header value read, in characters (default). */
export const DEFAULT_MAX_CREDENTIALS = 512;

export interface HttpAuthOptions {
  /** Shown by browsers in their password prompt (default "xsdot"); no `"`, `\` or control characters. */
  realm?: string;
  /** Throttle of failed attempts (default a new `Throttle()`); share the login form's to share its budget. */
  throttle?: Throttle;
  /** Longest header value read, in characters (default 512); longer is a failed attempt. */
  maxLength?: number;
}

type Result<T> = T | undefined | Promise<T | undefined>;

/** What BasicAuth and TokenAuth share: the throttle, the challenge and the `required` wrapper. */
abstract class HttpAuth<User, Credentials extends unknown[]> {
  readonly realm: string;
  readonly throttle: Throttle;
  readonly maxLength: number;
  #callback: ((request: Request, ...credentials: Credentials) => Result<User>) | undefined;

  constructor(options: HttpAuthOptions) {
    this.realm = options.realm ?? 'xsdot';
    if (!/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(this.realm)) throw new TypeError('xsdot: an auth realm must be printable ASCII without " or \\');
    this.throttle = options.throttle ?? new Throttle();
    this.maxLength = options.maxLength ?? DEFAULT_MAX_CREDENTIALS;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 1) throw new RangeError('xsdot: auth maxLength must be a positive integer');
  }

  /** Sets the callback that maps credentials to a user, or undefined when they are wrong (may be async). */
  authenticate(callback: (request: Request, ...credentials: Credentials) => Result<User>): void {
    this.#callback = callback;
  }

  /**
   * Wraps `handler` to run only for an authenticated request, with its user (also `request.g.currentUser`,
   * as microdot). Throws HttpError 401 (with the challenge) or 429 (with Retry-After) otherwise.
   */
  required(handler: (request: Request, user: User) => HandlerResult | Promise<HandlerResult>): Handler {
    return (request: Request) => {
      const callback = this.#callback;
      if (callback === undefined) throw new Error('xsdot: call authenticate() before serving routes it protects');
      const client = clientKey(request.clientAddress);
      const wait = this.throttle.retryAfter(client);
      if (wait > 0) throw new HttpError(429, 'Too many failed attempts.', { headers: { 'Retry-After': String(wait) } });
      const values = request.headers.getAll(this.header);
      if (values.length === 0) throw this.#challenge();
      const credentials = values.length === 1 && values[0].length <= this.maxLength ? this.parse(values[0]) : undefined;
      const user = credentials === undefined ? undefined : callback(request, ...credentials);
      const settle = (found: User | undefined) => {
        if (found === undefined || found === null || (found as unknown) === false) {
          this.throttle.failure(client);
          throw this.#challenge();
        }
        this.throttle.success(client);
        request.g.currentUser = found;
        return handler(request, found);
      };
      return isThenable(user) ? user.then(settle) : settle(user);
    };
  }

  /** The request header carrying the credentials. */
  protected abstract get header(): string;
  /** The scheme named in the challenge. */
  protected abstract get scheme(): string;
  /** The credentials in a header value, or undefined when it is malformed. */
  protected abstract parse(value: string): Credentials | undefined;

  #challenge(): HttpError {
    return new HttpError(401, undefined, { headers: { 'WWW-Authenticate': `${this.scheme} realm="${this.realm}", charset="UTF-8"` } });
  }
}

/** HTTP Basic authentication (RFC 7617): the callback gets the user name and the password. */
export class BasicAuth<User = unknown> extends HttpAuth<User, [username: string, password: string]> {
  constructor(options: HttpAuthOptions = {}) {
    super(options);
  }

  protected get header(): string {
    return 'authorization';
  }

  protected get scheme(): string {
    return 'Basic';
  }

  /** `Basic <base64 of user:password>`, the scheme in any case; UTF-8 without control characters (RFC 7617 §2). */
  protected parse(value: string): [string, string] | undefined {
    if (value.length < 6 || value.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
    const bytes = base64Decode(value.slice(6).trim());
    if (bytes === undefined) return undefined;
    const text = runtime().utf8Decode(bytes);
    // U+FFFD: the bytes were not UTF-8 (utf8Decode replaces malformed sequences).
    if (/[\x00-\x1f\x7f\ufffd]/.test(text)) return undefined;
    const colon = text.indexOf(':');
    return colon < 0 ? undefined : [text.slice(0, colon), text.slice(colon + 1)];
  }
}

export interface TokenAuthOptions extends HttpAuthOptions {
  /** Header carrying the token (default `Authorization`, as `<scheme> <token>`; any other header holds the bare token). */
  header?: string;
  /** Scheme in `Authorization` and the challenge (default `Bearer`, RFC 6750). */
  scheme?: string;
}

/** Token authentication: the callback gets the token (RFC 6750 `b64token` syntax: A-Z a-z 0-9 - . _ ~ + / then =). */
export class TokenAuth<User = unknown> extends HttpAuth<User, [token: string]> {
  readonly #header: string;
  readonly #scheme: string;

  constructor(options: TokenAuthOptions = {}) {
    super(options);
    this.#header = (options.header ?? 'Authorization').toLowerCase();
    this.#scheme = options.scheme ?? 'Bearer';
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(this.#scheme)) throw new TypeError('xsdot: a TokenAuth scheme must be a token (RFC 9110 §11.1)');
  }

  protected get header(): string {
    return this.#header;
  }

  protected get scheme(): string {
    return this.#scheme;
  }

  protected parse(value: string): [string] | undefined {
    let token = value;
    if (this.#header === 'authorization') {
      const space = value.indexOf(' ');
      if (space < 0 || value.slice(0, space).toLowerCase() !== this.#scheme.toLowerCase()) return undefined;
      token = value.slice(space + 1).trim();
    }
    return /^[A-Za-z0-9._~+/-]+=*$/.test(token) ? [token] : undefined;
  }
}

/**
 * True when `given` equals `expected`, in time that depends on neither (both are hashed with SHA-256 and
 * the digests compared in constant time, so the length of the secret does not show either). For tokens and
 * API keys in an authenticate callback.
 */
export function credentialsMatch(given: string, expected: string): boolean {
  return constantTimeEqual(sha256(given), sha256(expected));
}

function sha256(text: string): Uint8Array {
  const hash = runtime().crypto.createSha256();
  hash.update(runtime().utf8Encode(text));
  return hash.digest();
}

/** Standard padded base64 (RFC 4648 §4, as RFC 7617 uses it), canonical; undefined for anything else. */
function base64Decode(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  // The same alphabet but two characters: base64url's strict decoder, on the translated text.
  return base64urlDecode(text.replace(/=+$/, '').replace(/\+/g, '-').replace(/[/]/g, '_'));
}

/**
 * Cross-site request forgery defences for a device served over plain HTTP on a LAN, where browsers send
 * no `Sec-Fetch-*` headers and SameSite cookies alone are not enough (a sibling host on the LAN is
 * "same-site"). Two checks, both on every request whose method is not GET, HEAD or OPTIONS:
 *
 * 1. Origin: the `Origin` header (or, without one, the `Referer`) must name the scheme, host and port the
 *    request was sent to (`request.authority`: the absolute-form target's, else Host — which the server
 *    has already checked against its allow-list of names, so a DNS-rebound name fails there with 421).
 *    Browsers send `Origin` on every cross-origin and every POST request, so a request from another page
 *    fails here. (With `Referrer-Policy: no-referrer` browsers send `Origin: null` on same-origin POSTs:
 *    use `same-origin`.)
 * 2. Token: each form carries a token bound to the session id, HMAC(key, "csrf" + sid), compared in
 *    constant time. Login forms work the same way once the login page has saved an anonymous session
 *    (sid only); `regenerate()` at login then changes the sid, so a token seen before login is useless after.
 *
 *     const tokens = CsrfTokens.derive(sessions.keyRing.signingKey);
 *     app.before(csrfGuard({ tokens, sid: (request) => sessions.get(request).sid }));
 *     // in each form: <input type="hidden" name="csrf_token" value="${tokens.token(session.sid)}">
 */
import { runtime } from '../runtime';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url';
import { constantTimeEqual } from '../crypto/compare';
import { HmacSha256Key } from '../crypto/hmac';
import type { BeforeHook } from '../http/app';
import { abort } from '../http/errors';
import type { Request } from '../http/request';

/** The form field that carries the token. */
export const CSRF_FIELD = 'csrf_token';
/** The header that may carry it instead, for scripts. */
export const CSRF_HEADER = 'X-CSRF-Token';
const SAFE_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD', 'OPTIONS']);

/** Makes and checks session-bound CSRF tokens (43 characters of base64url). */
export class CsrfTokens {
  readonly #key: HmacSha256Key;

  /** `key`: at least 32 secret bytes used for nothing else. */
  constructor(key: Uint8Array) {
    if (key.length < 32) throw new RangeError('xsdot: a CSRF key needs at least 32 bytes');
    this.#key = new HmacSha256Key(key);
  }

  /** Tokens under a key derived from another secret key (e.g. the session signing key), kept apart from its other uses. */
  static derive(secret: HmacSha256Key): CsrfTokens {
    return new CsrfTokens(secret.sign(runtime().utf8Encode('xsdot csrf key')));
  }

  /** The token for forms shown to the session `sid`. */
  token(sid: string): string {
    return base64urlEncode(this.#mac(sid));
  }

  /** True when `token` is the token of session `sid`; false for anything else, never throws. */
  verify(sid: string, token: string | undefined): boolean {
    if (typeof token !== 'string' || token.length !== 43) return false;
    const bytes = base64urlDecode(token);
    return bytes !== undefined && constantTimeEqual(bytes, this.#mac(sid));
  }

  #mac(sid: string): Uint8Array {
    return this.#key.sign(runtime().utf8Encode('csrf' + sid));
  }
}

interface Authority {
  host: string;
  port: number;
}

function defaultPort(scheme: string): number {
  return scheme === 'https' ? 443 : 80;
}

/** Host and port of an authority (`host`, `host:port`, `[v6]:port`); undefined when malformed. */
function parseAuthority(authority: string, fallbackPort: number): Authority | undefined {
  let host = authority;
  let port = '';
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) return undefined;
    host = authority.slice(0, close + 1);
    const rest = authority.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    port = rest.slice(1);
  } else {
    const colon = authority.indexOf(':');
    if (colon >= 0) {
      host = authority.slice(0, colon);
      port = authority.slice(colon + 1);
    }
  }
  if (host === '' || /[\s@/\\,]/.test(host) || !/^[0-9]{0,5}$/.test(port)) return undefined;
  return { host: host.toLowerCase(), port: port === '' ? fallbackPort : Number(port) };
}

/** The scheme and authority of an absolute http(s) URL (an Origin or a Referer). */
function originOf(url: string): { scheme: string; authority: Authority } | undefined {
  const match = /^(https?):\/\/([^/?#]*)/i.exec(url);
  if (match === null) return undefined;
  const scheme = match[1].toLowerCase();
  const authority = parseAuthority(match[2], defaultPort(scheme));
  return authority === undefined ? undefined : { scheme, authority };
}

/**
 * True when the request's `Origin` (or, when absent, `Referer`) is `scheme` (the scheme clients use to
 * reach the server: `https` behind a TLS proxy) with the host and port the request was sent to
 * (`request.authority`). False when neither is sent, for `Origin: null`, and for anything malformed or repeated.
 */
export function isSameOrigin(request: Request, scheme: 'http' | 'https' = 'http'): boolean {
  const source = request.headers.get('origin') ?? request.headers.get('referer');
  const host = request.authority;
  if (source === undefined || host === undefined) return false;
  const origin = originOf(source);
  if (origin === undefined || origin.scheme !== scheme) return false;
  const target = parseAuthority(host, defaultPort(scheme));
  return target !== undefined && target.host === origin.authority.host && target.port === origin.authority.port;
}

export interface CsrfGuardOptions {
  tokens: CsrfTokens;
  /** The session id of the request (e.g. `(request) => sessions.get(request).sid`). */
  sid: (request: Request) => string;
  /** The scheme of the pages' origin (default `http`; `https` when clients reach the server over TLS). */
  scheme?: 'http' | 'https';
  /**
   * Requests whose body is a stream (routes with `maxStreamBody`): a before hook cannot read their form.
   * `'refuse'` (default): they need the X-CSRF-Token header. `'handler'`: they pass here after the origin
   * check, and the route must check the token from the body itself before acting on anything it sent
   * (as app/update.ts does with the first multipart field).
   */
  streamed?: 'refuse' | 'handler';
}

/**
 * A before hook that answers 403 to a state-changing request (any method but GET, HEAD, OPTIONS) that
 * fails the origin check or does not carry its session's token: exactly one `csrf_token` form field, or
 * the `X-CSRF-Token` header when the form has none.
 */
export function csrfGuard(options: CsrfGuardOptions): BeforeHook {
  return (request: Request) => {
    if (SAFE_METHODS.includes(request.method)) return undefined;
    if (!isSameOrigin(request, options.scheme)) abort(403, 'Cross-origin request refused.');
    if (request.stream !== undefined && options.streamed === 'handler') return undefined;
    const fields = request.form?.getAll(CSRF_FIELD) ?? [];
    const token = fields.length === 0 ? request.headers.get(CSRF_HEADER) : fields.length === 1 ? fields[0] : undefined;
    if (!options.tokens.verify(options.sid(request), token)) abort(403, 'The form has expired. Reload the page and try again.');
    return undefined;
  };
}

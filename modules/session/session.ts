/**
 * Signed-cookie sessions with microdot's API:
 *
 *     const sessions = new Session(app, { cookieName: 'session' });
 *     app.post('/login', withSession((req, session) => { session.set('user', 'admin'); session.save(); return 'ok'; }));
 *     app.get('/me', withSession((req, session) => session.get('user') ?? abort(401)));
 *
 * The session lives in an HS256 JWT cookie: no server-side table. On top of microdot it has expiry
 * (absolute and idle, with bounded re-issue), key rotation, logout that ends the session for good and
 * revocation of every session of a user (one bounded record in the key store: revocation.ts), and boot
 * binding for devices whose clock was never set. Any token that fails a check is treated as no session;
 * nothing reaches the client.
 *
 * Claims next to the session's values (38 bytes of JSON besides `{"user":"admin"}`; README "Sessions"):
 * - `exp`: when this token expires — the end of the idle window (`iat + idleTimeout`), or the login's
 *   absolute end when that comes first; a standard claim, so PyJWT enforces it too;
 * - `sid`: 12 base64url characters: the login's random id (8, 48 bits: `session.sid`, logout revokes
 *   it, CSRF tokens bind to it), then 4 giving the seconds from `exp` to the login's absolute end (0
 *   when `exp` is that end). No `iat`: the mint time is `exp - idleTimeout` (idle-bound tokens) or
 *   at least that (the rest);
 * - `gen` (only after `revokeAll` of the user) and `bid` (only on a clock that was never set).
 */
import { runtime } from '../runtime';
import { base64urlDigits, base64urlDigitsValue, base64urlEncode } from '../crypto/base64url';
import type { App, Handler } from '../http/app';
import type { CookieOptions } from '../http/cookies';
import type { Request } from '../http/request';
import type { HandlerResult, Response } from '../http/response';
import { checkCacheSize, DEFAULT_LEEWAY, DEFAULT_MAX_LENGTH, KeyRing, signToken, verifyToken, type JwtKey, type JwtPayload, type VerifyFailure, type VerifyOptions } from './jwt';
import { loadStoredKeys } from './keys';
import { Revocations, userHash } from './revocation';

export interface SessionOptions {
  /** Signing keys, the first signs. Default: created on first start and kept in the host key store. */
  keys?: JwtKey[];
  /** Cookie name (default "session", as microdot). With `secure`, the `__Host-` prefix is added. */
  cookieName?: string;
  /** Absolute lifetime of a login, in seconds (default one day; at most MAX_SESSION_AGE). */
  maxAge?: number;
  /** Seconds without a request after which a session ends (default one hour; 0: no idle limit). */
  idleTimeout?: number;
  /** Serve the cookie with `Secure` and the `__Host-` prefix: set it when the server is behind TLS. */
  secure?: boolean;
  sameSite?: 'Strict' | 'Lax';
  /** Longest token accepted or issued, in characters (default 1024). */
  maxTokenLength?: number;
  /**
   * Verified session cookies remembered so a browser's next request with the same cookie skips its HMAC
   * (default 4, at most 32, 0: none; each keeps the cookie's text, ~150 bytes). See `KeyRingOptions.cacheSize`.
   * Checked before any key is loaded: a RangeError naming it.
   */
  tokenCacheSize?: number;
  /** Clock skew tolerated, in seconds (default 5). */
  leeway?: number;
  /** The session key naming the user, for `revokeAll` and logout (default "user", as microdot apps use). */
  userKey?: string;
  /**
   * Session ids a logout revokes and remembers until they expire (default 16, at most 64; revocation.ts).
   * When they are all taken, a logout ends every session of its user instead.
   */
  maxRevokedSessions?: number;
  /**
   * Accept tokens without `iat`/`exp`, as microdot and PyJWT mint them (default false: they never
   * expire and cannot be revoked, so accept them only while migrating).
   */
  acceptBareTokens?: boolean;
}

/** Claims xsdot writes or reads next to the session data; `set()` refuses them as keys. */
const RESERVED: readonly string[] = Object.freeze(['sid', 'iat', 'exp', 'nbf', 'gen', 'bid']);
/** Characters of a session id (48 random bits). */
const SID_CHARS = 8;
/** Characters after the id in the `sid` claim: seconds from `exp` to the absolute end (24 bits). */
const REST_CHARS = 4;
/** Longest `maxAge`, in seconds (194 days): what the `sid` claim's 4 characters can count. */
export const MAX_SESSION_AGE = 64 ** REST_CHARS - 1;
/** Users whose record key (a SHA-256) is kept, so a request does not hash its user name. */
const USER_HASH_CACHE = 16;

export type SessionValue = string | number | boolean | null | SessionValue[] | { [key: string]: SessionValue };

/** Why a request has no session (for logs and tests); undefined when it has one or sent no cookie. */
export type RejectReason = VerifyFailure | 'duplicate' | 'claims' | 'idle' | 'boot' | 'revoked';

/** One request's session: a small dictionary that is written back as a cookie when it changes. */
export class SessionData {
  readonly #owner: Session;
  /**
   * The values: a Map once the session changed (or when it is new); until then the verified token's
   * claims, read in place (most requests only read their session).
   */
  #values: Map<string, SessionValue> | JwtPayload;
  #sid: string;
  #exp: number | undefined;
  #dirty = false;
  #deleted = false;
  /** Set when the token is older than half the idle window: re-issue it to slide the window. */
  refresh = false;
  /** Why the request's cookie was not accepted, if it sent one. */
  readonly rejected: RejectReason | undefined;
  /** The token minted by `save()`, reused by the response unless the data changes again. */
  token: string | undefined;

  /**
   * `data`: the session's values — a Map taken over (not copied), or a verified token's claims, whose
   * reserved names (`sid`, `exp`, …) are not values; `sid`: the id, or a `sid` claim that starts with it.
   */
  constructor(owner: Session, data: Map<string, SessionValue> | JwtPayload, sid: string, exp: number | undefined, rejected?: RejectReason) {
    this.#owner = owner;
    this.#values = data;
    this.#sid = sid;
    this.#exp = exp;
    this.rejected = rejected;
  }

  /** A random id of this login (8 base64url characters), changed by `regenerate()`; CSRF tokens bind to it. */
  get sid(): string {
    // A session read from a token holds its whole `sid` claim until the id is asked for.
    if (this.#sid.length > SID_CHARS) this.#sid = this.#sid.slice(0, SID_CHARS);
    return this.#sid;
  }

  /** Absolute expiry (seconds on the session clock), undefined for a new session. */
  get expires(): number | undefined {
    return this.#exp;
  }

  get isNew(): boolean {
    return this.#exp === undefined;
  }

  /** True when the response must write (or delete) the cookie. */
  get modified(): boolean {
    return this.#dirty || this.#deleted || this.refresh;
  }

  get deleted(): boolean {
    return this.#deleted;
  }

  get(key: string): SessionValue | undefined {
    const values = this.#values;
    if (values instanceof Map) return values.get(key);
    return isClaimValue(values, key) ? values[key] as SessionValue : undefined;
  }

  has(key: string): boolean {
    const values = this.#values;
    return values instanceof Map ? values.has(key) : isClaimValue(values, key);
  }

  keys(): string[] {
    return [...(this.#values = valuesMap(this.#values)).keys()];
  }

  set(key: string, value: SessionValue): void {
    if (RESERVED.includes(key)) throw new Error(`xsdot: "${key}" is a reserved session claim`);
    (this.#values = valuesMap(this.#values)).set(key, value);
    // Changed: written back, minted anew. Inline, not a private method: XS gives each instance a slot per private method.
    this.#dirty = true;
    this.token = undefined;
  }

  /**
   * `delete(key)` removes one value; `delete()` with no key ends the session (microdot's `session.delete()`):
   * a signed-in session read from a token is revoked in the key store too, so a copy of its cookie stops
   * working (throws, changing nothing, when the store refuses the write).
   */
  delete(key?: string): void {
    if (key === undefined) {
      this.#owner.end(this);
      this.#values = new Map();
      this.#deleted = true;
      this.token = undefined;
      return;
    }
    if ((this.#values = valuesMap(this.#values)).delete(key)) {
      this.#dirty = true;
      this.token = undefined;
    }
  }

  clear(): void {
    this.#values = new Map();
    this.#dirty = true;
    this.token = undefined;
  }

  /**
   * Writes the session into the response cookie (changes are also saved without it, as in Flask).
   * The token is minted now, so a session too large for a cookie throws here, at the call site.
   */
  save(): void {
    this.#deleted = false;
    this.#dirty = true;
    this.token = this.#owner.mint(this);
  }

  /** A new session id and a fresh lifetime (call at login: defeats session fixation). */
  regenerate(): void {
    this.#sid = newSid();
    this.#exp = undefined;
    this.#deleted = false;
    this.#dirty = true;
    this.token = undefined;
  }

  /** Clears the data and expires the cookie (logout). */
  invalidate(): void {
    this.delete();
  }

  /** @internal */
  startLifetime(exp: number): void {
    this.#exp = exp;
  }

  /** The data as a plain object. */
  toObject(): Record<string, SessionValue> {
    return Object.fromEntries(this.#values = valuesMap(this.#values));
  }

}

/** 48 random bits: the sid names a login (CSRF binding, fixation defence), the MAC protects it; short keeps the cookie small. */
function newSid(): string {
  return base64urlEncode(runtime().randomBytes(6));
}

/**
 * The seconds from `exp` to the login's absolute end that a `sid` claim carries after the 8-character id
 * (4 base64url digits), or -1 unless `sid` is 12 base64url characters and `exp` a whole number of seconds.
 */
function restOf(sid: unknown, exp: unknown): number {
  if (typeof sid !== 'string' || sid.length !== SID_CHARS + REST_CHARS || typeof exp !== 'number' || !Number.isSafeInteger(exp)) return -1;
  // Read in place (base64urlDigitsValue reads characters through String.prototype: no boxing on XS).
  if (base64urlDigitsValue(sid, 0, SID_CHARS) < 0) return -1;
  return base64urlDigitsValue(sid, SID_CHARS, SID_CHARS + REST_CHARS);
}

/** `values` as a Map: itself, or a new one of the claims but the reserved ones. */
function valuesMap(values: Map<string, SessionValue> | JwtPayload): Map<string, SessionValue> {
  if (values instanceof Map) return values;
  const map = new Map<string, SessionValue>();
  for (const key of Object.keys(values)) if (!RESERVED.includes(key)) map.set(key, values[key] as SessionValue);
  return map;
}

/** True when `key` names one of the session's values among `claims` (its own member, not a reserved claim). */
function isClaimValue(claims: JwtPayload, key: string): boolean {
  return !RESERVED.includes(key) && Object.prototype.hasOwnProperty.call(claims, key);
}

// Made on first use, not when the module loads: Moddable builds preload modules into flash, where a
// WeakMap created at load time is read-only (its set() throws).
let sessionsByApp: WeakMap<App, Session> | undefined;
let sessionsByRequest: WeakMap<Request, SessionData> | undefined;

export class Session {
  readonly cookieName: string;
  readonly maxAge: number;
  readonly idleTimeout: number;
  readonly keyRing: KeyRing;
  readonly #options: SessionOptions;
  /** verifyToken's options, made once: only `now` changes, set before each (synchronous) call. */
  readonly #verify: VerifyOptions & { now: number; leeway: number };
  readonly #cookie: CookieOptions;
  /** Identifies this boot: tokens minted on an unset clock are valid only in the boot that made them. */
  readonly #bootId: string;
  readonly #revocations: Revocations;
  /** User name → its record key, least recently used first. */
  readonly #userHashes = new Map<string, string>();
  /** Writes a request's session into its response: one hook per Session, not a closure per request. */
  readonly #writeHook = (request: Request, response: Response): HandlerResult => this.#write(request, response);

  constructor(app: App | undefined, options: SessionOptions = {}) {
    this.#options = options;
    this.#verify = { maxLength: options.maxTokenLength, leeway: options.leeway ?? DEFAULT_LEEWAY, now: 0, verifyExp: false };
    this.maxAge = options.maxAge ?? 86_400;
    this.idleTimeout = options.idleTimeout ?? 3_600;
    if (!(this.maxAge > 0 && this.maxAge <= MAX_SESSION_AGE)) throw new RangeError(`xsdot: session maxAge must be positive and at most ${MAX_SESSION_AGE} seconds`);
    if (!(this.idleTimeout >= 0)) throw new RangeError('xsdot: session idleTimeout must be 0 or positive');
    const cacheSize = checkCacheSize(options.tokenCacheSize, 'session tokenCacheSize');
    const name = options.cookieName ?? 'session';
    this.cookieName = options.secure && !name.startsWith('__Host-') ? `__Host-${name}` : name;
    this.#cookie = { path: '/', httpOnly: true, sameSite: options.sameSite ?? 'Lax', secure: options.secure ?? false };
    this.keyRing = new KeyRing(options.keys ?? loadStoredKeys(), { cacheSize });
    this.#bootId = base64urlEncode(runtime().randomBytes(6));
    this.#revocations = new Revocations({ maxSessions: options.maxRevokedSessions, now: this.#now(), trustedClock: runtime().wallClockTrusted() });
    if (app !== undefined) (sessionsByApp ??= new WeakMap()).set(app, this);
  }

  /** The Session registered for the app that is handling `request`. */
  static of(request: Request): Session {
    const session = request.app === undefined ? undefined : sessionsByApp?.get(request.app);
    if (session === undefined) throw new Error('xsdot: withSession needs `new Session(app)` for this app');
    return session;
  }

  /** The request's session, read from its cookie once and then shared by hooks and handler. */
  get(request: Request): SessionData {
    let data = sessionsByRequest?.get(request);
    if (data === undefined) {
      data = this.#load(request);
      (sessionsByRequest ??= new WeakMap()).set(request, data);
      request.afterRequest(this.#writeHook);
    }
    return data;
  }

  /** @internal Signs `data` as a token; throws when it exceeds `maxTokenLength`. */
  mint(data: SessionData): string {
    const now = this.#now();
    if (data.expires === undefined) data.startLifetime(now + this.maxAge);
    const end = data.expires as number;
    const exp = this.idleTimeout > 0 ? Math.min(end, now + this.idleTimeout) : end;
    const payload: JwtPayload = data.toObject();
    payload.sid = data.sid + base64urlDigits(end - exp, REST_CHARS);
    const user = payload[this.#userKey];
    if (typeof user === 'string') {
      const gen = this.#revocations.generation(this.#hashOf(user));
      if (gen > 0) payload.gen = gen;
    }
    if (!runtime().wallClockTrusted()) payload.bid = this.#bootId;
    payload.exp = exp;
    const token = signToken(payload, this.keyRing);
    const limit = this.#options.maxTokenLength ?? DEFAULT_MAX_LENGTH;
    if (token.length > limit) {
      throw new Error(`xsdot: session cookie would be ${token.length} characters, over maxTokenLength (${limit}); keep less data in the session`);
    }
    return token;
  }

  /**
   * Ends every session of `user` (logout everywhere, password change): older tokens stop verifying. One
   * store write; throws, changing nothing, when the store refuses it.
   */
  revokeAll(user: string): void {
    this.#revocations.revokeUser(this.#hashOf(user), this.#now());
  }

  /** @internal Revokes the signed-in session `data` read from a token (logout); nothing for other sessions. */
  end(data: SessionData): void {
    const user = data.get(this.#userKey);
    if (data.isNew || typeof user !== 'string') return;
    this.#revocations.revokeSession(data.sid, data.expires as number, this.#hashOf(user), this.#now());
  }

  /** The session key naming the user (`userKey` option, default "user"). */
  get userKey(): string {
    return this.#userKey;
  }

  /** @internal The revocation record, for tokens bound to it besides session cookies (login.ts's remember-me). */
  get revocations(): Revocations {
    return this.#revocations;
  }

  /** Seconds on the session clock: wall time when the host trusts its clock, else time since boot. */
  now(): number {
    return this.#now();
  }

  /** Seconds on the session clock: wall time when trusted, else time since boot. */
  #now(): number {
    const r = runtime();
    return Math.floor((r.wallClockTrusted() ? r.now() : r.monotonic()) / 1000);
  }

  get #userKey(): string {
    return this.#options.userKey ?? 'user';
  }

  #load(request: Request): SessionData {
    const values = request.cookieValues(this.cookieName);
    if (values.length === 0) return this.#fresh();
    if (values.length > 1) return this.#fresh('duplicate');
    const verify = this.#verify;
    verify.now = this.#now();
    const result = verifyToken(values[0], this.keyRing, verify);
    return result.ok ? this.#accept(result.payload, verify.now, verify.leeway) : this.#fresh(result.reason);
  }

  /**
   * The session of a token whose signature and expiry are valid, after the claims' own checks. Apart from
   * #load so that its locals are not on the stack while the token's MAC is computed (the device-fit
   * check holds the deepest request path to 358 stack slots).
   */
  #accept(claims: JwtPayload, now: number, leeway: number): SessionData {
    const { sid, iat, exp, gen, bid } = claims;
    const bare = iat === undefined && exp === undefined && sid === undefined;
    if (bare && !this.#options.acceptBareTokens) return this.#fresh('claims');
    // Seconds from exp to the login's absolute end, from the sid claim's last characters; -1: malformed.
    const rest = bare ? 0 : restOf(sid, exp);
    if (rest < 0) return this.#fresh('claims');
    const idle = this.idleTimeout;
    if (!bare) {
      const expires = exp as number;
      if (expires <= now - leeway) return this.#fresh(rest > 0 ? 'idle' : 'expired');
      // From the future: an end beyond what a token minted now could carry.
      if (expires + rest > now + this.maxAge + leeway || (rest > 0 && idle > 0 && expires > now + idle + leeway)) return this.#fresh('claims');
    }
    if (gen !== undefined && !(typeof gen === 'number' && Number.isInteger(gen) && gen > 0)) return this.#fresh('claims');
    // A token minted on an unset clock counts time from its boot: it is void after a reboot.
    const trusted = runtime().wallClockTrusted();
    if (trusted ? bid !== undefined : bid !== this.#bootId) return this.#fresh('boot');
    // Minted before the revocation record's not-before time (it was lost or full: fail closed). The mint
    // time is exp - idleTimeout when exp is the idle window's end, and no earlier when exp is the absolute
    // end: the bound used may also refuse a token minted up to idleTimeout after notBefore in its last
    // idle window (fail closed). A token is re-issued only once accepted: no older one has a later exp.
    if (trusted && !bare && (exp as number) - (idle > 0 ? Math.min(idle, this.maxAge) : this.maxAge) < this.#revocations.notBefore) return this.#fresh('revoked');
    const user = claims[this.#userKey];
    if (typeof user === 'string' && ((gen as number | undefined) ?? 0) < this.#revocations.generation(this.#hashOf(user))) return this.#fresh('revoked');
    const session = new SessionData(this, claims, bare ? newSid() : sid as string, bare ? now + this.maxAge : (exp as number) + rest);
    // Asked only when some id is listed: `session.sid` cuts the id from the claim (a new string).
    if (!bare && this.#revocations.revokedCount > 0 && this.#revocations.isRevoked(session.sid)) return this.#fresh('revoked');
    // Re-issued once past half its idle window (a token whose exp is the absolute end cannot slide).
    if (bare || (rest > 0 && idle > 0 && (exp as number) - now < idle / 2)) session.refresh = true;
    return session;
  }

  #fresh(rejected?: RejectReason): SessionData {
    return new SessionData(this, new Map(), newSid(), undefined, rejected);
  }

  #write(request: Request, response: Response): HandlerResult {
    const data = sessionsByRequest?.get(request);
    if (data === undefined) return undefined;
    keepPrivate(response);
    if (!data.modified) return undefined;
    if (data.deleted) {
      response.deleteCookie(this.cookieName, this.#cookie);
      return undefined;
    }
    const token = data.token ?? this.mint(data);
    const remaining = (data.expires as number) - this.#now();
    response.setCookie(this.cookieName, token, { ...this.#cookie, maxAge: Math.max(0, remaining) });
    return undefined;
  }

  #hashOf(user: string): string {
    let hash = this.#userHashes.get(user);
    if (hash === undefined) {
      hash = userHash(user);
      if (this.#userHashes.size >= USER_HASH_CACHE) this.#userHashes.delete(this.#userHashes.keys().next().value as string);
      this.#userHashes.set(user, hash);
    }
    return hash;
  }
}

/**
 * A response built from a session (read, set, refreshed or deleted) belongs to one browser: `Vary:
 * Cookie` (added to the app's Vary) and, unless the app chose a Cache-Control, `private`, so no shared
 * cache stores it or serves it to another client (Flask's CVE-2023-30861). RFC 9111 §5.2.2.7, RFC 9110 §12.5.5.
 */
function keepPrivate(response: Response): void {
  const headers = response.headers;
  // Lower-case lookups and constant fields: no name strings or checks per response (they allocate on XS).
  const vary = headers.getLower('vary');
  if (vary === undefined) headers.setKnown('vary', 'Vary', 'Cookie');
  else if (!varies(vary)) headers.set('Vary', `${vary}, Cookie`);
  if (headers.countLower('cache-control') === 0) headers.setKnown('cache-control', 'Cache-Control', 'private');
}

/** True when a Vary value already covers Cookie (`Cookie` in its list, or `*`). */
function varies(vary: string): boolean {
  for (const part of vary.split(',')) {
    const name = part.trim().toLowerCase();
    if (name === 'cookie' || name === '*') return true;
  }
  return false;
}

/**
 * Wraps a handler to receive the request's session after the request, as microdot's `with_session`.
 * The app must have a `Session`.
 */
export function withSession(handler: (request: Request, session: SessionData) => HandlerResult | Promise<HandlerResult>): Handler {
  return (request: Request) => handler(request, Session.of(request).get(request));
}

/**
 * User login on top of `Session`, in microdot's `Login` shape (`login.user_loader`, `@login`,
 * `login.login_user`, `login.logout_user`, `@login.fresh`):
 *
 *     const sessions = new Session(app);
 *     const login = new Login(sessions);
 *     login.userLoader((id) => users.get(id));            // undefined: no such user (logged out)
 *     app.get('/', login.required((request, user) => `Hello ${user.name}`));
 *     app.post('/settings', login.fresh((request, user) => …));   // password typed in this session, recently
 *     // the login form's POST, once the password is checked:
 *     return login.loginUser(request, 'ada', { remember: true }); // 303 to ?next= (same-origin) or '/'
 *
 * - An anonymous request to a protected route is redirected (303) to `loginUrl?next=<the path and query
 *   as sent>`; `loginUser` follows `next` only when `safeNext` says it is a path of this origin, else goes to
 *   `redirectUrl`. `next` is left out when longer than `maxNextLength` (256).
 * - `fresh`: the session's login was made with the password (not restored by remember-me) less than
 *   `freshAge` seconds ago (default 600); otherwise the request goes to the login page, as anonymous ones do.
 * - Remember-me: `loginUser(…, {remember})` adds a second cookie (`remember`; `__Host-remember` with
 *   `secure`), `HttpOnly`, `SameSite=Lax`, `Path=/`, for `rememberMaxAge` (30 days): an HS256 JWT under a key
 *   derived from the session signing key (so it can never pass for a session cookie, nor one for it;
 *   rotating the session keys ends remember-me too). It restores a login when the session has none — not
 *   fresh, and not extended: it dies at its own expiry. It is bound to the session revocation record
 *   (revocation.ts): `sessions.revokeAll(user)` (password change, sign out everywhere) ends it, and
 *   `logoutUser` revokes it (one store write, as a logout; a full record ends every session of the user).
 *   Its expiry needs a wall clock: on a device whose clock was never set no remember cookie is issued or accepted.
 * - The user loader maps the user id kept in the session (the Session's `userKey`) to the app's user
 *   object, or undefined/null when there is none: then the request is treated as logged out.
 *
 * Bounds: user ids 1–64 characters (`loginUser` throws a TypeError beyond), remember tokens ≤ 1024
 * characters, `next` ≤ `maxNextLength`. Nothing is allocated for requests that never meet a Login.
 */
import { runtime } from '../runtime';
import { isThenable, type Handler } from '../http/app';
import type { CookieOptions } from '../http/cookies';
import type { Request } from '../http/request';
import { Response, type HandlerResult } from '../http/response';
import { DEFAULT_LEEWAY, DEFAULT_MAX_LENGTH, KeyRing, signToken, verifyToken } from '../session/jwt';
import { userHash } from '../session/revocation';
import type { Session } from '../session/session';
import { base64urlEncode } from '../crypto/base64url';

/** Longest user id `loginUser` accepts, in characters. */
export const MAX_USER_ID = 64;
/** Default longest `next` kept in the redirect to the login page, in characters. */
export const DEFAULT_MAX_NEXT = 256;
/** The session key holding the time (session clock, seconds) of the last password login. */
export const FRESH_KEY = 'fresh';

export interface LoginOptions {
  /** Where anonymous requests are sent (default "/login"); `?next=` (or `&next=`) is appended. */
  loginUrl?: string;
  /** Where `loginUser` goes without a usable `next` (default "/"). */
  redirectUrl?: string;
  /** Seconds a password login stays fresh (default 600). */
  freshAge?: number;
  /** Seconds a remember-me cookie lasts (default 30 days, as microdot). */
  rememberMaxAge?: number;
  /** Remember-me cookie name (default "remember"; `__Host-` is prefixed with `secure`). */
  rememberCookieName?: string;
  /** Serve the remember-me cookie with `Secure` and the `__Host-` prefix (behind TLS). Default false. */
  secure?: boolean;
  /** Longest `next` kept, in characters (default 256). */
  maxNextLength?: number;
}

type Found<User> = User | undefined | null;
type UserLoader<User> = (id: string) => Found<User> | Promise<Found<User>>;
type UserHandler<User> = (request: Request, user: User) => HandlerResult | Promise<HandlerResult>;

/** The claims of a valid, unrevoked remember-me token. */
interface Remembered {
  user: string;
  rid: string;
  exp: number;
}

// Made on first use (Moddable preloads freeze what modules make when they load).
let usersByRequest: WeakMap<Request, { user: unknown }> | undefined;

/**
 * True when `url` is a path of this origin that is safe to redirect to: at most `maxLength` characters of
 * visible ASCII, starting with exactly one `/`, with no `//` or `\` anywhere (browsers read `\` as `/`
 * and `//host` as another host) — so no scheme (`https:`, `javascript:`), no protocol-relative URL, no
 * control character or space that browsers strip (`/\t/evil.example`).
 */
export function safeNext(url: string, maxLength = DEFAULT_MAX_NEXT): boolean {
  return typeof url === 'string' && url.length <= maxLength && /^[/][\x21-\x7e]*$/.test(url) && url.indexOf('//') < 0 && url.indexOf('\\') < 0;
}

export class Login<User = unknown> {
  readonly sessions: Session;
  readonly loginUrl: string;
  readonly redirectUrl: string;
  readonly freshAge: number;
  readonly rememberMaxAge: number;
  readonly rememberCookieName: string;
  readonly maxNextLength: number;
  readonly #cookie: CookieOptions;
  readonly #ring: KeyRing;
  #loader: UserLoader<User> | undefined;

  /** Throws a TypeError or RangeError naming the option for a login/redirect URL that is not a safe path or a non-positive time. */
  constructor(sessions: Session, options: LoginOptions = {}) {
    this.sessions = sessions;
    this.loginUrl = options.loginUrl ?? '/login';
    this.redirectUrl = options.redirectUrl ?? '/';
    this.maxNextLength = options.maxNextLength ?? DEFAULT_MAX_NEXT;
    if (!safeNext(this.loginUrl, Infinity)) throw new TypeError('xsdot: Login loginUrl must be a path of this origin, such as "/login"');
    if (!safeNext(this.redirectUrl, Infinity)) throw new TypeError('xsdot: Login redirectUrl must be a path of this origin, such as "/"');
    this.freshAge = positive('freshAge', options.freshAge ?? 600);
    this.rememberMaxAge = positive('rememberMaxAge', options.rememberMaxAge ?? 30 * 86_400);
    positive('maxNextLength', this.maxNextLength);
    const name = options.rememberCookieName ?? 'remember';
    this.rememberCookieName = options.secure ? `__Host-${name}` : name;
    this.#cookie = Object.freeze({ path: '/', httpOnly: true, sameSite: 'Lax', secure: options.secure ?? false });
    // Its own key: a remember token is never a session token, nor the reverse.
    // Each remember-me token is presented about once (to sign in again): none is remembered.
    this.#ring = new KeyRing([{ key: sessions.keyRing.signingKey.sign(runtime().utf8Encode('xsdot remember-me key')) }], { cacheSize: 0 });
  }

  /** Sets the callback mapping a user id to the app's user (or undefined/null: none). May be async. */
  userLoader(loader: UserLoader<User>): void {
    this.#loader = loader;
  }

  /**
   * The signed-in user of `request` (loaded once per request), restoring a login from a remember-me
   * cookie when the session has none; undefined when anonymous.
   */
  currentUser(request: Request): User | undefined | Promise<User | undefined> {
    const cached = usersByRequest?.get(request);
    if (cached !== undefined) return cached.user as User | undefined;
    const loader = this.#loader;
    if (loader === undefined) throw new Error('xsdot: call login.userLoader() before serving routes it protects');
    const session = this.sessions.get(request);
    const id = session.get(this.sessions.userKey);
    const remembered = typeof id === 'string' ? undefined : this.#remembered(request);
    const userId = typeof id === 'string' ? id : remembered?.user;
    if (userId === undefined) return this.#found(request, undefined);
    const loaded = loader(userId);
    const settle = (user: Found<User>): User | undefined => {
      if (user !== undefined && user !== null && remembered !== undefined) {
        // A login restored by remember-me: a new session id, and not fresh.
        session.regenerate();
        session.set(this.sessions.userKey, userId);
      }
      return this.#found(request, user ?? undefined);
    };
    return isThenable(loaded) ? loaded.then(settle) : settle(loaded);
  }

  /**
   * Wraps `handler` to run only for a signed-in user (and, with `fresh`, a fresh login); anyone else is
   * redirected (303) to the login page with `next`. microdot's `@login`.
   */
  required(handler: UserHandler<User>, options: { fresh?: boolean } = {}): Handler {
    const fresh = options.fresh ?? false;
    return (request: Request) => {
      const found = this.currentUser(request);
      const guard = (user: User | undefined) => (user === undefined || (fresh && !this.isFresh(request)) ? this.#toLogin(request) : handler(request, user));
      return isThenable(found) ? found.then(guard) : guard(found);
    };
  }

  /** `required(handler, {fresh: true})`: microdot's `@login.fresh`, for pages that change credentials or settings. */
  fresh(handler: UserHandler<User>): Handler {
    return this.required(handler, { fresh: true });
  }

  /** True when the session's login was made with the password less than `freshAge` seconds ago. */
  isFresh(request: Request): boolean {
    const at = this.sessions.get(request).get(FRESH_KEY);
    const now = this.sessions.now();
    return typeof at === 'number' && at <= now + DEFAULT_LEEWAY && now - at <= this.freshAge;
  }

  /**
   * Signs `userId` in (call it once the password is checked): a new session id (no fixation), fresh, and
   * with `remember` (true: `rememberMaxAge`; or seconds) a remember-me cookie. Returns a 303 redirect to
   * the request's `next` (query, else form field) when `safeNext`, else to `redirectUrl`.
   * Throws a TypeError for a user id that is empty or over MAX_USER_ID characters.
   */
  loginUser(request: Request, userId: string, options: { remember?: boolean | number; redirectUrl?: string } = {}): Response {
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID) {
      throw new TypeError(`xsdot: a user id must be 1 to ${MAX_USER_ID} characters`);
    }
    const session = this.sessions.get(request);
    session.regenerate();
    session.set(this.sessions.userKey, userId);
    session.set(FRESH_KEY, this.sessions.now());
    session.save();
    usersByRequest?.delete(request);
    const remember = options.remember === true ? this.rememberMaxAge : options.remember || 0;
    if (remember > 0) {
      positive('remember', remember);
      if (runtime().wallClockTrusted()) {
        const token = this.#mint(userId, remember);
        request.afterRequest((_request, response) => void response.setCookie(this.rememberCookieName, token, { ...this.#cookie, maxAge: remember }));
      } else {
        runtime().log('warn', 'xsdot: remember-me needs a set clock; no remember cookie issued');
      }
    } else if (request.cookieValues(this.rememberCookieName).length > 0) {
      // Another login's remember-me must not outlive this one (a shared browser).
      this.#dropCookie(request);
    }
    return Response.redirect(this.nextUrl(request, options.redirectUrl), 303);
  }

  /**
   * Signs the request's user out: revokes a valid remember-me cookie and deletes it, then ends the session
   * (`session.delete()`: revoked too). Throws, before the session is touched, when the store refuses a write.
   */
  logoutUser(request: Request): void {
    const remembered = this.#remembered(request);
    if (remembered !== undefined) {
      this.sessions.revocations.revokeSession(remembered.rid, remembered.exp, userHash(remembered.user), this.sessions.now());
    }
    this.sessions.get(request).delete();
    this.#found(request, undefined);
    if (request.cookieValues(this.rememberCookieName).length > 0) this.#dropCookie(request);
  }

  #dropCookie(request: Request): void {
    request.afterRequest((_request, response) => void response.deleteCookie(this.rememberCookieName, this.#cookie));
  }

  /** The request's `next` (query string, else form field; one value only) when `safeNext`, else `fallback`. */
  nextUrl(request: Request, fallback = this.redirectUrl): string {
    let next = request.query.getAll('next');
    if (next.length === 0) next = request.form?.getAll('next') ?? [];
    return next.length === 1 && safeNext(next[0], this.maxNextLength) ? next[0] : fallback;
  }

  #toLogin(request: Request): Response {
    const target = request.queryString === '' ? request.rawPath : `${request.rawPath}?${request.queryString}`;
    const next = safeNext(target, this.maxNextLength) ? `${this.loginUrl.includes('?') ? '&' : '?'}next=${encodeURIComponent(target)}` : '';
    return Response.redirect(this.loginUrl + next, 303);
  }

  #found(request: Request, user: User | undefined): User | undefined {
    (usersByRequest ??= new WeakMap()).set(request, { user });
    if (user !== undefined) request.g.currentUser = user;
    return user;
  }

  #mint(user: string, seconds: number): string {
    const now = this.sessions.now();
    const gen = this.sessions.revocations.generation(userHash(user));
    const claims: Record<string, unknown> = { rm: user, rid: base64urlEncode(runtime().randomBytes(9)), iat: now, exp: now + seconds };
    if (gen > 0) claims.gen = gen;
    return signToken(claims, this.#ring);
  }

  /** The request's one remember-me cookie when it is authentic, unexpired and not revoked. */
  #remembered(request: Request): Remembered | undefined {
    const values = request.cookieValues(this.rememberCookieName);
    if (values.length !== 1 || !runtime().wallClockTrusted()) return undefined;
    const now = this.sessions.now();
    const result = verifyToken(values[0], this.#ring, { maxLength: DEFAULT_MAX_LENGTH, now });
    if (!result.ok) return undefined;
    const { rm, rid, iat, exp, gen } = result.payload;
    if (typeof rm !== 'string' || rm.length === 0 || rm.length > MAX_USER_ID || typeof rid !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') return undefined;
    if (gen !== undefined && !(typeof gen === 'number' && Number.isInteger(gen) && gen > 0)) return undefined;
    const revocations = this.sessions.revocations;
    if (iat > now + DEFAULT_LEEWAY || iat < revocations.notBefore || revocations.isRevoked(rid)) return undefined;
    if (((gen as number | undefined) ?? 0) < revocations.generation(userHash(rm))) return undefined;
    return { user: rm, rid, exp };
  }
}

function positive(option: string, value: number): number {
  if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`xsdot: Login ${option} must be a positive whole number`);
  return value;
}

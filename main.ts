/**
 * The device login app — what users flash: a LAN device's admin pages behind xsdot sessions.
 *
 * - First boot: no password exists and there is no default one. Every page redirects to /setup, which
 *   asks for the one-time setup code printed on the device console (`setup code: XXXX-XXXX`) and the new
 *   password of the user `admin`, twice.
 * - /login (POST starts a new session), / (status dashboard), /settings/password (change it: every
 *   other session of the user ends), POST /logout, and /api/me (JSON for scripts; 401 when signed out).
 * - Passwords: PBKDF2-HMAC-SHA256 in the host key store. CSRF: same-origin check plus a session-bound
 *   token in every form. Guesses (password, setup code, current password) are throttled per client
 *   address and all together, except for browsers proving an earlier login with a device cookie (each
 *   throttled on its own, so a flood from many addresses cannot lock the admin out). Security headers on
 *   every response. See modules/auth for each part.
 *
 * Runtime-agnostic: the host installs its runtime first (the Session reads its keys from the store).
 */
import { App, HttpError, Response, statusText, type HandlerResult, type Request } from './modules/http/index';
import { Session, withSession, type SessionData, type SessionOptions } from './modules/session/index';
import {
  clientKey, contentSecurityPolicy, CsrfTokens, csrfGuard, DEVICE_COOKIE, DeviceCookies, newSetupCode, PasswordError, passwordProblem, PasswordStore,
  setupCodeMatches, Throttle, useSecurityHeaders, type ThrottleOptions,
} from './modules/auth/index';
import { runtime } from './modules/runtime';
import * as pages from './app/pages';

export interface LoginAppOptions {
  /** Shown on every page (default "xsdot device"). */
  deviceName?: string;
  /**
   * Session options. Defaults: signing keys created once and kept in the host store, an 8-hour login
   * that ends after 30 minutes without a request.
   */
  session?: SessionOptions;
  /** PBKDF2 iterations for passwords set from now on (default DEFAULT_ITERATIONS in modules/auth/password). */
  iterations?: number;
  /**
   * Guess throttling (default: 16 clients, 3 free failures each and 10 for all of them together, then
   * 1 s doubling up to 15 min). Browsers with a device cookie from an earlier login, and signed-in
   * sessions changing their password, are throttled apart, each on its own (no shared budget).
   */
  throttle?: ThrottleOptions;
}

/** The one user. */
export const ADMIN = 'admin';

/** A Map, not an object: a lookup by a client's string would make XS keep that string as a key forever. */
const NOTICES: ReadonlyMap<string, string> = new Map([
  ['setup', 'Password saved. Sign in with it.'],
  ['out', 'Signed out.'],
  ['pw', 'Password changed. Every other session was signed out.'],
]);

/** The form fields `names` of a urlencoded body ('' when missing); 400 when one is repeated. */
function fields<N extends string>(request: Request, names: readonly N[]): Record<N, string> {
  const out = {} as Record<N, string>;
  for (const name of names) {
    const values = request.form?.getAll(name) ?? [];
    if (values.length > 1) throw new HttpError(400, `The form field "${name}" was sent more than once.`);
    out[name] = values[0] ?? '';
  }
  return out;
}

/** The notice named by `?m=` (fixed texts only: nothing from the URL is shown). */
function notice(request: Request): pages.Message | undefined {
  const text = NOTICES.get(request.query.get('m') ?? '');
  return text === undefined ? undefined : { text };
}

function failure(text: string): pages.Message {
  return { text, error: true };
}

function newPasswordProblem(password: string, confirm: string): string | undefined {
  return passwordProblem(password) ?? (password === confirm ? undefined : 'The two new passwords do not match.');
}

/**
 * Sets `user`'s password and ends every session of the user, failing closed: the revocation is written
 * first, then the password, each one atomic store write, so a crash or a store failure between the two
 * leaves the old password with every session ended — never the new password with old sessions alive.
 * Memory follows only what the store accepted. Throws what the store (or the password rules) threw.
 */
export function changePassword(sessions: Session, passwords: PasswordStore, user: string, password: string): void {
  const problem = passwordProblem(password);
  if (problem !== undefined) throw new PasswordError(problem);
  sessions.revokeAll(user);
  passwords.set(user, password);
}

/** Seconds on the session clock (wall time when the host trusts its clock, else time since boot). */
function sessionClock(): number {
  const host = runtime();
  return Math.floor((host.wallClockTrusted() ? host.now() : host.monotonic()) / 1000);
}

function redirect(location: string): Response {
  return Response.redirect(location, 303);
}

export function createApp(options: LoginAppOptions = {}): App {
  const app = new App();
  const device = options.deviceName ?? 'xsdot device';
  const sessions = new Session(app, { maxAge: 8 * 3600, idleTimeout: 30 * 60, ...options.session });
  const passwords = new PasswordStore({ iterations: options.iterations });
  // Anyone: per address plus one budget shared by all (many addresses buy no more guesses).
  const throttle = new Throttle(options.throttle);
  // Browsers that signed in before (device cookie) and signed-in sessions: each on its own.
  const trusted = new Throttle({ ...options.throttle, shared: false });
  const devices = DeviceCookies.derive(sessions.keyRing.signingKey, options.session?.secure ?? false);
  const tokens = CsrfTokens.derive(sessions.keyRing.signingKey);

  /** Set until the admin password exists; printed on the device console only. */
  let setupCode = passwords.has(ADMIN) ? undefined : newSetupCode();
  if (setupCode !== undefined) runtime().log('info', `xsdot: no admin password yet; open /setup and enter the setup code: ${setupCode}`);

  const userOf = (session: SessionData): string | undefined => {
    const user = session.get('user');
    return typeof user === 'string' ? user : undefined;
  };

  /** A page for a signed-in user; anyone else is sent to /login. */
  const signedIn = (handler: (request: Request, session: SessionData, user: string) => HandlerResult) =>
    withSession((request, session) => {
      const user = userOf(session);
      return user === undefined ? redirect('/login') : handler(request, session, user);
    });

  /** A form page for `session`, saving it first if new: the form's CSRF token binds to its sid. */
  const formPage = (session: SessionData, render: (token: string) => string, status = 200, retryAfter?: number): Response => {
    if (session.isNew) session.save();
    return Response.html(render(tokens.token(session.sid)), status, retryAfter === undefined ? undefined : { 'Retry-After': String(retryAfter) });
  };

  /**
   * Guess throttling for `request`: by its `trustedKey` (a device cookie's or a session's) in the trusted
   * throttle, else by its client address: `wait` seconds before it may guess again.
   */
  const guesses = (request: Request, trustedKey?: string) => {
    const table = trustedKey === undefined ? throttle : trusted;
    const client = trustedKey ?? clientKey(request.clientAddress);
    return { wait: table.retryAfter(client), failed: () => table.failure(client), succeeded: () => table.success(client) };
  };
  const tooMany = (seconds: number) => failure(`Too many failed attempts. Try again in ${pages.formatDuration(seconds)}.`);

  useSecurityHeaders(app, contentSecurityPolicy(pages.STYLE));
  app.before(csrfGuard({ tokens, sid: (request) => sessions.get(request).sid, scheme: options.session?.secure ? 'https' : 'http' }));
  app.before((request) => {
    if (setupCode === undefined || request.path === '/setup') return undefined;
    return request.path.startsWith('/api/') ? Response.json({ error: 'setup required' }, 401) : redirect('/setup');
  });

  const errorPage = (request: Request, error: unknown): Response => {
    const status = error instanceof HttpError ? error.status : 500;
    const reason = error instanceof HttpError ? error.reason : statusText(500);
    const response = request.path.startsWith('/api/')
      ? Response.json({ error: reason }, status)
      : Response.html(pages.errorPage(device, status, statusText(status), reason), status);
    for (const [name, value] of Object.entries((error instanceof HttpError && error.headers) || {})) response.headers.set(name, value);
    return response;
  };
  for (const status of [400, 401, 403, 404, 405, 413, 421, 429, 500]) app.errorHandler(status, errorPage);

  // First boot.
  const setupForm = (session: SessionData, message?: pages.Message, status?: number, retryAfter?: number) =>
    formPage(session, (token) => pages.setupPage({ device, token, message }), status, retryAfter);

  app.get('/setup', withSession((_request, session) => (setupCode === undefined ? redirect('/login') : setupForm(session))));

  app.post('/setup', withSession((request, session) => {
    if (setupCode === undefined) return redirect('/login');
    const guess = guesses(request);
    if (guess.wait > 0) return setupForm(session, tooMany(guess.wait), 429, guess.wait);
    const form = fields(request, ['code', 'password', 'confirm']);
    if (!setupCodeMatches(setupCode, form.code)) {
      guess.failed();
      return setupForm(session, failure('Wrong setup code. It is printed on the device console.'), 401);
    }
    const problem = newPasswordProblem(form.password, form.confirm);
    if (problem !== undefined) return setupForm(session, failure(problem), 400);
    passwords.set(ADMIN, form.password);
    setupCode = undefined;
    guess.succeeded();
    runtime().log('info', 'xsdot: admin password set; setup is closed');
    return redirect('/login?m=setup');
  }));

  // Signing in and out.
  const loginForm = (session: SessionData, username: string, message?: pages.Message, status?: number, retryAfter?: number) =>
    formPage(session, (token) => pages.loginPage({ device, token, username, message }), status, retryAfter);

  app.get('/login', withSession((request, session) => (userOf(session) === undefined ? loginForm(session, ADMIN, notice(request)) : redirect('/'))));

  app.post('/login', withSession((request, session) => {
    const form = fields(request, ['username', 'password']);
    const username = form.username.trim().toLowerCase();
    const device = devices.verify(request.cookieValues(DEVICE_COOKIE), username);
    const guess = guesses(request, device);
    if (guess.wait > 0) return loginForm(session, form.username, tooMany(guess.wait), 429, guess.wait);
    // The password is always checked, so the time taken does not tell whether the user name was right.
    const passwordRight = passwords.verify(ADMIN, form.password);
    if (!passwordRight || username !== ADMIN) {
      guess.failed();
      return loginForm(session, form.username, failure('Wrong user name or password.'), 401);
    }
    guess.succeeded();
    session.regenerate();
    session.set('user', ADMIN);
    const response = redirect('/');
    // Proof for later logins from this browser: they get their own throttle entry.
    if (device === undefined) response.setCookie(DEVICE_COOKIE, devices.issue(ADMIN), devices.cookieOptions);
    return response;
  }));

  app.post('/logout', withSession((_request, session) => {
    session.invalidate();
    return redirect('/login?m=out');
  }));

  // Signed-in pages.
  app.get('/', signedIn((request, session, user) => {
    const host = runtime();
    const left = (session.expires ?? 0) - sessionClock();
    const idle = sessions.idleTimeout > 0 ? `, or after ${pages.formatDuration(sessions.idleTimeout)} without activity` : '';
    return formPage(session, (token) => pages.dashboardPage({
      device, token, user, message: notice(request),
      uptime: pages.formatDuration(host.monotonic() / 1000),
      freeMemory: host.freeMemory?.(),
      expires: `in ${pages.formatDuration(left)}${idle}`,
    }));
  }));

  const passwordForm = (session: SessionData, message?: pages.Message, status?: number, retryAfter?: number) =>
    formPage(session, (token) => pages.passwordPage({ device, token, message }), status, retryAfter);

  app.get('/settings/password', signedIn((_request, session) => passwordForm(session)));

  app.post('/settings/password', signedIn((request, session, user) => {
    // A signed-in session guessing its current password: throttled on its own, apart from any flood.
    const guess = guesses(request, `s:${session.sid}`);
    if (guess.wait > 0) return passwordForm(session, tooMany(guess.wait), 429, guess.wait);
    const form = fields(request, ['old_password', 'password', 'confirm']);
    if (!passwords.verify(user, form.old_password)) {
      guess.failed();
      return passwordForm(session, failure('The current password is wrong.'), 401);
    }
    const problem = newPasswordProblem(form.password, form.confirm);
    if (problem !== undefined) return passwordForm(session, failure(problem), 400);
    guess.succeeded();
    changePassword(sessions, passwords, user, form.password);
    session.regenerate();
    session.save();
    runtime().log('info', `xsdot: password of ${user} changed; other sessions revoked`);
    return redirect('/?m=pw');
  }));

  app.get('/api/me', withSession((_request, session) => {
    const user = userOf(session);
    if (user === undefined) return Response.json({ error: 'not signed in' }, 401);
    return { user, device, uptime: Math.floor(runtime().monotonic() / 1000), expiresIn: (session.expires ?? 0) - sessionClock() };
  }));

  return app;
}

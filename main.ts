/**
 * The device login app — what users flash: a LAN device's admin pages behind xsdot sessions.
 *
 * - First boot: no password exists and there is no default one. Every page redirects to /setup, which
 *   asks for the one-time setup code printed on the device console (`setup code: XXXX-XXXX`), the
 *   device's name and the new password of the first admin, `admin`, twice.
 * - /login (POST starts a new session), / (status dashboard), /account (role, session count, sign out
 *   everywhere), /settings/password (change it: every other session of the user ends), POST /logout,
 *   /api/me (JSON for scripts; 401 when signed out), and for admins /settings (device name; users with
 *   roles admin / viewer: app/settings.ts, app/users.ts); the dashboard's uptime and free memory live
 *   over Server-Sent Events (app/live.ts).
 * - Passwords: PBKDF2-HMAC-SHA256 in the host key store. CSRF: same-origin check plus a session-bound
 *   token in every form. Guesses (password, setup code, current password) are throttled per client
 *   address and all together, except for browsers proving an earlier login with a device cookie (each
 *   throttled on its own, so a flood from many addresses cannot lock the admin out). Security headers on
 *   every response. See modules/auth for each part.
 *
 * Runtime-agnostic: the host installs its runtime first (the Session reads its keys from the store).
 */
import { App, HttpError, Response, statusText, type Handler, type HandlerResult, type Request } from './modules/http/index';
import { Session, withSession, type SessionData, type SessionOptions } from './modules/session/index';
import {
  clientKey, contentSecurityPolicy, CsrfTokens, csrfGuard, DEVICE_COOKIE, DeviceCookies, newSetupCode, PasswordError, passwordProblem, PasswordStore,
  setupCodeMatches, Throttle, useSecurityHeaders, type ThrottleOptions,
} from './modules/auth/index';
import { runtime } from './modules/runtime';
import * as pages from './app/pages';
import { failure, fields, logEvent, notice, redirect } from './app/forms';
import { DEVICE_NAME_STORE_KEY, deviceNameProblem, settingsRoutes } from './app/settings';
import { Users } from './app/users';
import { useLiveStatus } from './app/live';
import { STATIC_PREFIX, useAssets } from './app/assets';
import { useUpdatePage } from './app/update';
import type { StaticSource } from './modules/http/static';

export interface LoginAppOptions {
  /** The device's name until one is saved at setup or in the settings (default "xsdot device"). */
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
  /** Most users, admins and viewers together (default 8, at most 16: app/users.ts). */
  maxUsers?: number;
  /**
   * The static files of app/static (the stylesheet), served under /static/ (app/assets.ts): the host's
   * directory or firmware resources. Without it the pages are unstyled.
   */
  assets?: StaticSource;
  /** The largest firmware image the update page takes (default 2 MiB, app/update.ts). */
  maxFirmwareBytes?: number;
}

/** The first user, made at setup (an admin). */
export const ADMIN = 'admin';

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

/** Runs a change of the session count; the count is informative, so a refused write is logged, not fatal. */
function counting(change: () => void): void {
  try {
    change();
  } catch (error) {
    logEvent('error', `xsdot: cannot save the session count: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export function createApp(options: LoginAppOptions = {}): App {
  const app = new App();
  const stored = runtime().store.get(DEVICE_NAME_STORE_KEY);
  let device = stored !== undefined && deviceNameProblem(stored) === undefined ? stored : options.deviceName ?? 'xsdot device';
  const sessions = new Session(app, { maxAge: 8 * 3600, idleTimeout: 30 * 60, ...options.session });
  const passwords = new PasswordStore({ iterations: options.iterations });
  // A device set up before the user table existed has the admin's password only: admin stays its admin.
  const users = new Users({
    maxUsers: options.maxUsers,
    legacyAdmin: passwords.has(ADMIN) ? ADMIN : undefined,
    sessionsSurviveReboot: runtime().wallClockTrusted(),
  });
  if (users.corrupt) logEvent('error', 'xsdot: the user table record is unreadable: every user is refused until setup runs again');
  // Anyone: per address plus one budget shared by all (many addresses buy no more guesses).
  const throttle = new Throttle(options.throttle);
  // Browsers that signed in before (device cookie) and signed-in sessions: each on its own.
  const trusted = new Throttle({ ...options.throttle, shared: false });
  const devices = DeviceCookies.derive(sessions.keyRing.signingKey, options.session?.secure ?? false);
  const tokens = CsrfTokens.derive(sessions.keyRing.signingKey);

  /** Set until an admin exists; printed on the device console only. */
  let setupCode = users.hasAdmin ? undefined : newSetupCode();
  if (setupCode !== undefined) runtime().log('info', `xsdot: no admin password yet; open /setup and enter the setup code: ${setupCode}`);

  /** The signed-in user of `session`: named in it and still in the user table (else signed out). */
  const userOf = (session: SessionData): string | undefined => {
    const user = session.get('user');
    return typeof user === 'string' && users.get(user) !== undefined ? user : undefined;
  };

  /** A page for a signed-in user; anyone else is sent to /login. */
  const signedIn = (handler: (request: Request, session: SessionData, user: string) => HandlerResult): Handler =>
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
   * throttle, else by its client address: `wait` seconds before it may guess again. A failure that makes
   * the client wait is logged (once per wait, not for each refused guess: a flood cannot flood the log).
   */
  const guesses = (request: Request, trustedKey?: string) => {
    const table = trustedKey === undefined ? throttle : trusted;
    const client = trustedKey ?? clientKey(request.clientAddress);
    return {
      wait: table.retryAfter(client),
      failed: () => {
        table.failure(client);
        const wait = table.retryAfter(client);
        if (wait > 0) logEvent('warn', `xsdot: guesses from ${request.clientAddress} throttled: next one in ${wait} s`);
      },
      succeeded: () => table.success(client),
    };
  };
  const tooMany = (seconds: number) => failure(`Too many failed attempts. Try again in ${pages.formatDuration(seconds)}.`);

  useSecurityHeaders(app, contentSecurityPolicy("'self'"));
  // The update page's upload is streamed: it checks its token itself, before writing a byte (app/update.ts).
  app.before(csrfGuard({ tokens, sid: (request) => sessions.get(request).sid, scheme: options.session?.secure ? 'https' : 'http', streamed: 'handler' }));
  app.before((request) => {
    if (setupCode === undefined || request.path === '/setup' || request.path.startsWith(STATIC_PREFIX)) return undefined;
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
  for (const status of [400, 401, 403, 404, 405, 409, 413, 421, 429, 500, 501]) app.errorHandler(status, errorPage);

  // One route per path, GET and POST together: the router allocates a little for each route it tries.
  // Each method has a function of its own: XS would allocate, on every call, the variables a closure
  // inside the POST code captures, even for a GET.

  // First boot.
  const setupForm = (session: SessionData, name: string, message?: pages.Message, status?: number, retryAfter?: number) =>
    formPage(session, (token) => pages.setupPage({ device, token, name, message }), status, retryAfter);

  const setupPost = (request: Request, session: SessionData): Response => {
    if (setupCode === undefined) return redirect('/login');
    const form = fields(request, ['code', 'name', 'password', 'confirm']);
    // An empty name keeps the current one (scripts may leave it out).
    const name = form.name.trim() === '' ? device : form.name.trim();
    const guess = guesses(request);
    if (guess.wait > 0) return setupForm(session, name, tooMany(guess.wait), 429, guess.wait);
    if (!setupCodeMatches(setupCode, form.code)) {
      logEvent('warn', `xsdot: wrong setup code from ${request.clientAddress}`);
      guess.failed();
      return setupForm(session, name, failure('Wrong setup code. It is printed on the device console.'), 401);
    }
    const problem = (name === device ? undefined : deviceNameProblem(name)) ?? newPasswordProblem(form.password, form.confirm);
    if (problem !== undefined) return setupForm(session, name, failure(problem), 400);
    // After a corrupt table, the admin's earlier sessions end first; then the password, then the table.
    if (users.corrupt) sessions.revokeAll(ADMIN);
    passwords.set(ADMIN, form.password);
    users.reset(ADMIN);
    if (name !== device) {
      runtime().store.set(DEVICE_NAME_STORE_KEY, name);
      device = name;
    }
    setupCode = undefined;
    guess.succeeded();
    logEvent('info', 'xsdot: admin password set; setup is closed');
    return redirect('/login?m=setup');
  };
  app.route('/setup', ['GET', 'POST'], withSession((request, session) =>
    request.method === 'POST' ? setupPost(request, session) : setupCode === undefined ? redirect('/login') : setupForm(session, device)));

  // Signing in and out.
  const loginForm = (session: SessionData, username: string, message?: pages.Message, status?: number, retryAfter?: number) =>
    formPage(session, (token) => pages.loginPage({ device, token, username, message }), status, retryAfter);

  const loginPost = (request: Request, session: SessionData): Response => {
    const form = fields(request, ['username', 'password']);
    const username = form.username.trim().toLowerCase();
    const device = devices.verify(request.cookieValues(DEVICE_COOKIE), username);
    const guess = guesses(request, device);
    if (guess.wait > 0) return loginForm(session, form.username, tooMany(guess.wait), 429, guess.wait);
    // The password is always checked, so the time taken does not tell whether the user name was right.
    const passwordRight = passwords.verify(username, form.password);
    const known = users.get(username) !== undefined;
    if (!passwordRight || !known) {
      // Only a user name that exists is logged: an unknown one may be a password typed into the wrong field.
      logEvent('warn', `xsdot: failed login for ${known ? `user "${username}"` : 'an unknown user name'} from ${request.clientAddress}`);
      guess.failed();
      return loginForm(session, form.username, failure('Wrong user name or password.'), 401);
    }
    guess.succeeded();
    session.regenerate();
    session.set('user', username);
    session.save();
    counting(() => users.sessionStarted(username, session.expires as number, sessionClock()));
    const response = redirect('/');
    // Proof for later logins from this browser: they get their own throttle entry.
    if (device === undefined) response.setCookie(DEVICE_COOKIE, devices.issue(username), devices.cookieOptions);
    return response;
  };
  app.route('/login', ['GET', 'POST'], withSession((request, session) =>
    request.method === 'POST' ? loginPost(request, session) : userOf(session) === undefined ? loginForm(session, ADMIN, notice(request)) : redirect('/')));

  app.post('/logout', withSession((request, session) => {
    const user = userOf(session);
    if (user !== undefined && fields(request, ['everywhere']).everywhere === '1') {
      // Every token of the user stops verifying; this one then ends without a revocation of its own.
      sessions.revokeAll(user);
      session.delete('user');
      session.invalidate();
      counting(() => users.sessionsEnded(user));
      logEvent('info', `xsdot: ${user} signed out everywhere`);
      return redirect('/login?m=all');
    }
    const exp = session.expires;
    const counted = user !== undefined && !session.isNew;
    session.invalidate();
    if (counted) counting(() => users.sessionEnded(user, exp as number, sessionClock()));
    return redirect('/login?m=out');
  }));

  // Signed-in pages.
  app.get('/', signedIn((request, session, user) => {
    allowLiveScript(request);
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

  const passwordPost = (request: Request, session: SessionData, user: string): Response => {
    // A signed-in session guessing its current password: throttled on its own, apart from any flood.
    const guess = guesses(request, `s:${session.sid}`);
    if (guess.wait > 0) return passwordForm(session, tooMany(guess.wait), 429, guess.wait);
    const form = fields(request, ['old_password', 'password', 'confirm']);
    if (!passwords.verify(user, form.old_password)) {
      logEvent('warn', `xsdot: wrong current password for user "${user}" from ${request.clientAddress}`);
      guess.failed();
      return passwordForm(session, failure('The current password is wrong.'), 401);
    }
    const problem = newPasswordProblem(form.password, form.confirm);
    if (problem !== undefined) return passwordForm(session, failure(problem), 400);
    guess.succeeded();
    changePassword(sessions, passwords, user, form.password);
    session.regenerate();
    session.save();
    counting(() => users.sessionsEnded(user, session.expires));
    logEvent('info', `xsdot: password of ${user} changed; other sessions revoked`);
    return redirect('/?m=pw');
  };
  app.route('/settings/password', ['GET', 'POST'], signedIn((request, session, user) =>
    request.method === 'POST' ? passwordPost(request, session, user) : passwordForm(session)));

  app.get('/api/me', withSession((_request, session) => {
    const user = userOf(session);
    if (user === undefined) return Response.json({ error: 'not signed in' }, 401);
    return { user, device, uptime: Math.floor(runtime().monotonic() / 1000), expiresIn: (session.expires ?? 0) - sessionClock() };
  }));

  settingsRoutes({
    app, sessions, passwords, users, signedIn, formPage,
    now: sessionClock,
    device: () => device,
    setDevice: (name) => {
      runtime().store.set(DEVICE_NAME_STORE_KEY, name);
      device = name;
    },
    newPasswordProblem,
    changePassword: (user, password) => changePassword(sessions, passwords, user, password),
  });

  // Last: routes are matched in order, and each one tried before the match costs the pages above a little.
  if (options.assets !== undefined) useAssets(app, options.assets);
  useUpdatePage(app, { device: () => device, isAdmin: (user) => users.get(user)?.role === 'admin', tokens, signedIn, maxImageBytes: options.maxFirmwareBytes });

  // The dashboard's live uptime and free memory (SSE), and the status over WebSocket for tools: after the others, so
  // they are matched before it (a route with parameters splits the path when it is tried).
  const allowLiveScript = useLiveStatus(app, contentSecurityPolicy("'self'"), (session) => userOf(session) !== undefined);
  return app;
}

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
import { App, HttpError, Response, statusText, UrlPattern, type Handler, type HandlerResult, type Request } from './modules/http/index';
import { Session, withSession, type SessionData, type SessionOptions } from './modules/session/index';
import {
  clientKey, contentSecurityPolicy, CsrfTokens, csrfGuard, DEVICE_COOKIE, DeviceCookies, newSetupCode, PasswordError, passwordProblem, PasswordStore,
  setupCodeMatches, Throttle, useSecurityHeaders, type ThrottleOptions,
} from './modules/auth/index';
import { runtime } from './modules/runtime';
import * as pages from './app/pages';
import { failure, fields, logEvent, newPasswordProblem, notice, redirect } from './app/forms';
import { accountRoute, DEVICE_NAME_STORE_KEY, deviceNameProblem, settingsRoute, type SettingsContext } from './app/settings';
import { Users } from './app/users';
import { liveRoute, LiveStatus, scriptAllowed, type LiveContext } from './app/live';
import { STATIC_PREFIX, useAssets } from './app/assets';
import { DEFAULT_MAX_IMAGE_BYTES, UPDATE_PATH, updateForm, updateStreamLimit, updateUpload, type UpdateContext } from './app/update';
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

// Everything below that does not change at run time is made when the module loads: preloaded on a
// Moddable build, it stays in flash, and only the LoginApp instance (its state and route entries) is in
// RAM. Handlers are module functions that find their app through the request (`loginApp`), not closures
// per app: on XS each closure costs ~10 slots plus one per variable it captures.

/** Every page's policy: the origin's stylesheets, no script (the dashboard's adds its script: app/live.ts). */
const CSP = contentSecurityPolicy("'self'");
const ERROR_STATUSES: readonly number[] = Object.freeze([400, 401, 403, 404, 405, 409, 413, 421, 429, 500, 501]);
const GET_POST: readonly string[] = Object.freeze(['GET', 'POST']);

/** A wait before another guess, as a form message. */
const tooMany = (seconds: number) => failure(`Too many failed attempts. Try again in ${pages.formatDuration(seconds)}.`);

/** Guess throttling of one request (LoginApp.guesses). */
interface Guesses {
  /** Seconds before the client may guess again (0: now). */
  wait: number;
  failed(): void;
  succeeded(): void;
}

/** The login app: an App with the device's state; what never changes is module-level (above and below). */
class LoginApp extends App implements SettingsContext, UpdateContext, LiveContext {
  /** The device's name (saved at setup or in the settings). */
  device: string;
  /** Set until an admin exists; printed on the device console only. */
  setupCode: string | undefined;
  readonly sessions: Session;
  readonly passwords: PasswordStore;
  readonly users: Users;
  /** Anyone: per address plus one budget shared by all (many addresses buy no more guesses). */
  readonly throttle: Throttle;
  /** Browsers that signed in before (device cookie) and signed-in sessions: each on its own. */
  readonly trusted: Throttle;
  readonly devices: DeviceCookies;
  readonly tokens: CsrfTokens;
  readonly maxImageBytes: number;
  readonly live = new LiveStatus();

  constructor(options: LoginAppOptions) {
    super();
    const stored = runtime().store.get(DEVICE_NAME_STORE_KEY);
    this.device = stored !== undefined && deviceNameProblem(stored) === undefined ? stored : options.deviceName ?? 'xsdot device';
    const sessions = new Session(this, { maxAge: 8 * 3600, idleTimeout: 30 * 60, ...options.session });
    this.sessions = sessions;
    this.passwords = new PasswordStore({ iterations: options.iterations });
    // A device set up before the user table existed has the admin's password only: admin stays its admin.
    this.users = new Users({
      maxUsers: options.maxUsers,
      legacyAdmin: this.passwords.has(ADMIN) ? ADMIN : undefined,
      sessionsSurviveReboot: runtime().wallClockTrusted(),
    });
    if (this.users.corrupt) logEvent('error', 'xsdot: the user table record is unreadable: every user is refused until setup runs again');
    this.throttle = new Throttle(options.throttle);
    this.trusted = new Throttle({ ...options.throttle, shared: false });
    this.devices = DeviceCookies.derive(sessions.keyRing.signingKey, options.session?.secure ?? false);
    this.tokens = CsrfTokens.derive(sessions.keyRing.signingKey);
    this.maxImageBytes = options.maxFirmwareBytes ?? DEFAULT_MAX_IMAGE_BYTES;
    this.setupCode = this.users.hasAdmin ? undefined : newSetupCode();
    if (this.setupCode !== undefined) runtime().log('info', `xsdot: no admin password yet; open /setup and enter the setup code: ${this.setupCode}`);

    useSecurityHeaders(this, CSP);
    // The update page's upload is streamed: it checks its token itself, before writing a byte (app/update.ts).
    this.before(csrfGuard({ tokens: this.tokens, sid: sessionId, scheme: options.session?.secure ? 'https' : 'http', streamed: 'handler' }));
    this.before(setupFirst);
    for (const status of ERROR_STATUSES) this.errorHandler(status, errorPage);

    // One route per path, GET and POST together: the router allocates a little for each route it tries.
    this.route(SETUP, GET_POST, setupRoute);
    this.route(LOGIN, GET_POST, loginRoute);
    this.post(LOGOUT, logoutRoute);
    this.get(HOME, dashboardRoute);
    this.route(PASSWORD, GET_POST, passwordRoute);
    this.get(ME, meRoute);
    this.get(ACCOUNT, accountHandler);
    this.route(SETTINGS, GET_POST, settingsHandler);
    // Last: routes are matched in order, and each one tried before the match costs the pages above a little.
    if (options.assets !== undefined) useAssets(this, options.assets);
    this.get(UPDATE, updateFormHandler);
    this.post(UPDATE, updateUploadHandler, { maxStreamBody: updateStreamLimit(this.maxImageBytes) });
    // The dashboard's live uptime and free memory (SSE), and the status over WebSocket for tools: after the others, so
    // they are matched before it (a route with parameters splits the path when it is tried).
    this.get(LIVE, liveHandler);
  }

  /** The signed-in user of `session`: named in it and still in the user table (else signed out). */
  userOf(session: SessionData): string | undefined {
    const user = session.get('user');
    return typeof user === 'string' && this.users.get(user) !== undefined ? user : undefined;
  }

  isAdmin(user: string): boolean {
    return this.users.get(user)?.role === 'admin';
  }

  /**
   * A form page for `session`, saving it first if new: the form's CSRF token binds to its sid. `render`
   * gets the token and the device's name (so a closure per request need not capture the app for it).
   */
  formPage(session: SessionData, render: (token: string, device: string) => string, status = 200, retryAfter?: number): Response {
    if (session.isNew) session.save();
    return Response.html(render(this.tokens.token(session.sid), this.device), status, retryAfter === undefined ? undefined : { 'Retry-After': String(retryAfter) });
  }

  /**
   * Guess throttling for `request`: by its `trustedKey` (a device cookie's or a session's) in the trusted
   * throttle, else by its client address: `wait` seconds before it may guess again. A failure that makes
   * the client wait is logged (once per wait, not for each refused guess: a flood cannot flood the log).
   */
  guesses(request: Request, trustedKey?: string): Guesses {
    const table = trustedKey === undefined ? this.throttle : this.trusted;
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
  }

  /** Seconds on the session clock. */
  now(): number {
    return sessionClock();
  }

  /** Saves the device name (throws what the store threw). */
  setDevice(name: string): void {
    runtime().store.set(DEVICE_NAME_STORE_KEY, name);
    this.device = name;
  }

  changePassword(user: string, password: string): void {
    changePassword(this.sessions, this.passwords, user, password);
  }
}

/** The login app handling `request` (Session.of finds its Session the same way). */
const loginApp = (request: Request): LoginApp => request.app as LoginApp;

/** The session id the CSRF tokens bind to. */
const sessionId = (request: Request): string => loginApp(request).sessions.get(request).sid;

/** Until an admin exists every page but /setup (and the stylesheet) leads to /setup. */
function setupFirst(request: Request): HandlerResult {
  if (loginApp(request).setupCode === undefined || request.path === '/setup' || request.path.startsWith(STATIC_PREFIX)) return undefined;
  return request.path.startsWith('/api/') ? Response.json({ error: 'setup required' }, 401) : redirect('/setup');
}

function errorPage(request: Request, error: unknown): Response {
  const status = error instanceof HttpError ? error.status : 500;
  const reason = error instanceof HttpError ? error.reason : statusText(500);
  const response = request.path.startsWith('/api/')
    ? Response.json({ error: reason }, status)
    : Response.html(pages.errorPage(loginApp(request).device, status, statusText(status), reason), status);
  for (const [name, value] of Object.entries((error instanceof HttpError && error.headers) || {})) response.headers.set(name, value);
  return response;
}

/** A page for a signed-in user; anyone else is sent to /login. */
function signedIn(handler: (request: Request, session: SessionData, user: string, app: LoginApp) => HandlerResult | Promise<HandlerResult>): Handler {
  return withSession((request, session) => {
    const app = loginApp(request);
    const user = app.userOf(session);
    return user === undefined ? redirect('/login') : handler(request, session, user, app);
  });
}

// Each method has a function of its own: XS would allocate, on every call, the variables a closure
// inside the POST code captures, even for a GET.

// First boot.
function setupForm(app: LoginApp, session: SessionData, name: string, message?: pages.Message, status?: number, retryAfter?: number): Response {
  return app.formPage(session, (token, device) => pages.setupPage({ device, token, name, message }), status, retryAfter);
}

function setupPost(request: Request, session: SessionData, app: LoginApp): Response {
  const setupCode = app.setupCode;
  if (setupCode === undefined) return redirect('/login');
  const form = fields(request, ['code', 'name', 'password', 'confirm']);
  // An empty name keeps the current one (scripts may leave it out).
  const name = form.name.trim() === '' ? app.device : form.name.trim();
  const guess = app.guesses(request);
  if (guess.wait > 0) return setupForm(app, session, name, tooMany(guess.wait), 429, guess.wait);
  if (!setupCodeMatches(setupCode, form.code)) {
    logEvent('warn', `xsdot: wrong setup code from ${request.clientAddress}`);
    guess.failed();
    return setupForm(app, session, name, failure('Wrong setup code. It is printed on the device console.'), 401);
  }
  const problem = (name === app.device ? undefined : deviceNameProblem(name)) ?? newPasswordProblem(form.password, form.confirm);
  if (problem !== undefined) return setupForm(app, session, name, failure(problem), 400);
  // After a corrupt table, the admin's earlier sessions end first; then the password, then the table.
  if (app.users.corrupt) app.sessions.revokeAll(ADMIN);
  app.passwords.set(ADMIN, form.password);
  app.users.reset(ADMIN);
  if (name !== app.device) app.setDevice(name);
  app.setupCode = undefined;
  guess.succeeded();
  logEvent('info', 'xsdot: admin password set; setup is closed');
  return redirect('/login?m=setup');
}

const setupRoute = withSession((request, session) => {
  const app = loginApp(request);
  return request.method === 'POST' ? setupPost(request, session, app) : app.setupCode === undefined ? redirect('/login') : setupForm(app, session, app.device);
});

// Signing in and out.
function loginForm(app: LoginApp, session: SessionData, username: string, message?: pages.Message, status?: number, retryAfter?: number): Response {
  return app.formPage(session, (token, device) => pages.loginPage({ device, token, username, message }), status, retryAfter);
}

function loginPost(request: Request, session: SessionData, app: LoginApp): Response {
  const form = fields(request, ['username', 'password']);
  const username = form.username.trim().toLowerCase();
  const device = app.devices.verify(request.cookieValues(DEVICE_COOKIE), username);
  const guess = app.guesses(request, device);
  if (guess.wait > 0) return loginForm(app, session, form.username, tooMany(guess.wait), 429, guess.wait);
  // The password is always checked, so the time taken does not tell whether the user name was right.
  const passwordRight = app.passwords.verify(username, form.password);
  const known = app.users.get(username) !== undefined;
  if (!passwordRight || !known) {
    // Only a user name that exists is logged: an unknown one may be a password typed into the wrong field.
    logEvent('warn', `xsdot: failed login for ${known ? `user "${username}"` : 'an unknown user name'} from ${request.clientAddress}`);
    guess.failed();
    return loginForm(app, session, form.username, failure('Wrong user name or password.'), 401);
  }
  guess.succeeded();
  session.regenerate();
  session.set('user', username);
  session.save();
  counting(() => app.users.sessionStarted(username, session.expires as number, sessionClock()));
  const response = redirect('/');
  // Proof for later logins from this browser: they get their own throttle entry.
  if (device === undefined) response.setCookie(DEVICE_COOKIE, app.devices.issue(username), app.devices.cookieOptions);
  return response;
}

const loginRoute = withSession((request, session) => {
  const app = loginApp(request);
  return request.method === 'POST' ? loginPost(request, session, app) : app.userOf(session) === undefined ? loginForm(app, session, ADMIN, notice(request)) : redirect('/');
});

const logoutRoute = withSession((request, session) => {
  const app = loginApp(request);
  const user = app.userOf(session);
  if (user !== undefined && fields(request, ['everywhere']).everywhere === '1') {
    // Every token of the user stops verifying; this one then ends without a revocation of its own.
    app.sessions.revokeAll(user);
    session.delete('user');
    session.invalidate();
    counting(() => app.users.sessionsEnded(user));
    logEvent('info', `xsdot: ${user} signed out everywhere`);
    return redirect('/login?m=all');
  }
  const exp = session.expires;
  const counted = user !== undefined && !session.isNew;
  session.invalidate();
  if (counted) counting(() => app.users.sessionEnded(user, exp as number, sessionClock()));
  return redirect('/login?m=out');
});

// Signed-in pages.
const allowLiveScript = scriptAllowed(CSP);

const dashboardRoute = signedIn((request, session, user, app) => {
  allowLiveScript(request);
  const host = runtime();
  const left = (session.expires ?? 0) - sessionClock();
  const idleTimeout = app.sessions.idleTimeout;
  const idle = idleTimeout > 0 ? `, or after ${pages.formatDuration(idleTimeout)} without activity` : '';
  return app.formPage(session, (token, device) => pages.dashboardPage({
    device, token, user, message: notice(request),
    uptime: pages.formatDuration(host.monotonic() / 1000),
    freeMemory: host.freeMemory?.(),
    expires: `in ${pages.formatDuration(left)}${idle}`,
  }));
});

function passwordForm(app: LoginApp, session: SessionData, message?: pages.Message, status?: number, retryAfter?: number): Response {
  return app.formPage(session, (token, device) => pages.passwordPage({ device, token, message }), status, retryAfter);
}

function passwordPost(request: Request, session: SessionData, user: string, app: LoginApp): Response {
  // A signed-in session guessing its current password: throttled on its own, apart from any flood.
  const guess = app.guesses(request, `s:${session.sid}`);
  if (guess.wait > 0) return passwordForm(app, session, tooMany(guess.wait), 429, guess.wait);
  const form = fields(request, ['old_password', 'password', 'confirm']);
  if (!app.passwords.verify(user, form.old_password)) {
    logEvent('warn', `xsdot: wrong current password for user "${user}" from ${request.clientAddress}`);
    guess.failed();
    return passwordForm(app, session, failure('The current password is wrong.'), 401);
  }
  const problem = newPasswordProblem(form.password, form.confirm);
  if (problem !== undefined) return passwordForm(app, session, failure(problem), 400);
  guess.succeeded();
  changePassword(app.sessions, app.passwords, user, form.password);
  session.regenerate();
  session.save();
  counting(() => app.users.sessionsEnded(user, session.expires));
  logEvent('info', `xsdot: password of ${user} changed; other sessions revoked`);
  return redirect('/?m=pw');
}

const passwordRoute = signedIn((request, session, user, app) =>
  request.method === 'POST' ? passwordPost(request, session, user, app) : passwordForm(app, session));

const meRoute = withSession((request, session) => {
  const app = loginApp(request);
  const user = app.userOf(session);
  if (user === undefined) return Response.json({ error: 'not signed in' }, 401);
  return { user, device: app.device, uptime: Math.floor(runtime().monotonic() / 1000), expiresIn: (session.expires ?? 0) - sessionClock() };
});

const accountHandler = signedIn(accountRoute);
const settingsHandler = signedIn(settingsRoute);
const updateFormHandler = signedIn(updateForm);
const updateUploadHandler = signedIn(updateUpload);
const liveHandler: Handler = (request) => liveRoute(request, loginApp(request));

const SETUP = new UrlPattern('/setup');
const LOGIN = new UrlPattern('/login');
const LOGOUT = new UrlPattern('/logout');
const HOME = new UrlPattern('/');
const PASSWORD = new UrlPattern('/settings/password');
const ME = new UrlPattern('/api/me');
const ACCOUNT = new UrlPattern('/account');
const SETTINGS = new UrlPattern('/settings');
const UPDATE = new UrlPattern(UPDATE_PATH);
const LIVE = new UrlPattern('/live/<name>');

export function createApp(options: LoginAppOptions = {}): App {
  return new LoginApp(options);
}

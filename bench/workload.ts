/**
 * The benchmarks' workload: the device login app (main.ts, `createApp`) driven in-process through
 * TestClient — the real parser, connection and response code over in-memory ECMA-419 sockets, no
 * network. Portable: runs on Node (bench/speed.ts) and inside XS (bench/fit/entry.ts on the device-fit
 * host, bench/xs-speed.ts in xsnap-worker), after the host installed its runtime.
 *
 * Request kinds, each checked for the answer a browser would get:
 * - `home`: GET / of a signed-in user — the dashboard (session read, HTML page with a CSRF token);
 * - `session`: GET /api/me of a signed-in user — session read, small JSON;
 * - `write`: GET /login of a new visitor — the login form, whose anonymous session is signed and set
 *   as a cookie (a session write without PBKDF2);
 * - `login`: POST /login with the right password — PBKDF2, a new session, 303 to /;
 * - `static`: GET /bench/static — a fixed 2 KB HTML page with no session; the login app has no static
 *   route, so the benchmark mounts this one;
 * - `settings`: GET /settings of the signed-in admin — a role lookup and the largest form page (three forms,
 *   the user list).
 */
import { createApp, type LoginAppOptions } from '../main';
import { DEFAULT_ITERATIONS } from '../modules/auth/index';
import { Response, type App } from '../modules/http/index';
import { TestClient, type TestResponse } from '../modules/http/testclient';
import { installRuntime, runtime } from '../modules/runtime';

export const PASSWORD = 'correct horse battery';
/**
 * What a desktop browser sends with every request besides Host and Cookie (Chrome's navigation headers,
 * about 430 bytes): a device must parse heads of this size, not the few bytes a test client sends.
 */
export const BROWSER_HEADERS: Record<string, string> = {
  'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7',
  'Accept-Language': 'en-US,en;q=0.9,de;q=0.8',
  'Accept-Encoding': 'gzip, deflate',
  'Upgrade-Insecure-Requests': '1',
  'Cache-Control': 'max-age=0',
};
const ORIGIN = { ...BROWSER_HEADERS, Origin: 'http://localhost', Referer: 'http://localhost/login' };

export type RequestKind = 'home' | 'session' | 'write' | 'login' | 'static' | 'settings';

export const REQUEST_LABELS: Record<RequestKind, string> = {
  home: 'GET / (dashboard)',
  session: 'session GET (/api/me)',
  write: 'session write (GET /login)',
  login: 'login POST',
  static: 'static page',
  settings: 'GET /settings (admin page)',
};

const STATIC_PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>About</title></head><body>' +
  '<h1>About this device</h1>' +
  '<p>This page is the same for everyone: it reads no session and renders nothing. '.repeat(24) +
  '</p></body></html>';

/** A TestClient that keeps the latest form token and sends a same-origin Origin on POSTs, as a browser does. */
export class Browser {
  readonly client: TestClient;
  token = '';

  constructor(app: App, address: string) {
    this.client = new TestClient(app, { clientAddress: address });
  }

  async get(path: string): Promise<TestResponse> {
    return this.#remember(await this.client.get(path, { headers: BROWSER_HEADERS }));
  }

  async post(path: string, form: Record<string, string>): Promise<TestResponse> {
    return this.#remember(await this.client.post(path, { form: { csrf_token: this.token, ...form }, headers: ORIGIN }));
  }

  /** Forgets cookies and token: the next request comes from a new visitor. */
  reset(): void {
    this.client.cookies.clear();
    this.token = '';
  }

  #remember(response: TestResponse): TestResponse {
    const match = /name="csrf_token" value="([^"]*)"/.exec(response.text);
    if (match !== null) this.token = match[1];
    return response;
  }
}

export interface Device {
  app: App;
  /** The PBKDF2 iterations of the admin password. */
  iterations: number;
  /** A new browser on its own address. */
  browser(): Browser;
  /** A new browser, signed in as admin. */
  signedIn(): Promise<Browser>;
}

function expect(response: TestResponse, status: number, what: string): TestResponse {
  if (response.status !== status) throw new Error(`${what}: expected ${status}, got ${response.status} ${response.text.slice(0, 200)}`);
  return response;
}

/**
 * Boots the login app on the installed runtime (its store must be empty: first boot), reads the setup
 * code from the log and sets the admin password through /setup, as a person would.
 */
export async function bootDevice(options: LoginAppOptions = {}): Promise<Device> {
  const { device, setupCode } = startDevice(options);
  const admin = device.browser();
  expect(await admin.get('/setup'), 200, 'GET /setup');
  expect(await admin.post('/setup', { code: setupCode, password: PASSWORD, confirm: PASSWORD }), 303, 'POST /setup');
  // The admin's in-memory client is the harness's, not the device's: its own Server would stay alive
  // until its connection-deadline timer fires, and count as device memory.
  admin.client.server.close();
  return device;
}

/** The first half of `bootDevice`: the app created, no password yet; `setupCode` is what it printed. */
export function startDevice(options: LoginAppOptions = {}): { device: Device; setupCode: string } {
  const host = runtime();
  let code: string | undefined;
  installRuntime({
    ...host,
    log: (level, message) => {
      const match = /setup code: (\S+)/.exec(message);
      if (match !== null) code = match[1];
      else if (level === 'warn' || level === 'error') host.log(level, message);
    },
  });
  const app = createApp(options);
  app.get('/bench/static', () => Response.html(STATIC_PAGE));
  if (code === undefined) throw new Error('the login app printed no setup code (is the store empty?)');
  let addresses = 0;
  const browser = () => new Browser(app, `192.0.2.${(addresses++ % 250) + 1}`);
  const device: Device = {
    app,
    iterations: options.iterations ?? DEFAULT_ITERATIONS,
    browser,
    async signedIn() {
      const user = browser();
      expect(await user.get('/login'), 200, 'GET /login');
      expect(await user.post('/login', { username: 'admin', password: PASSWORD }), 303, 'POST /login');
      return user;
    },
  };
  return { device, setupCode: code };
}

/**
 * What a request of `kind` needs before it is sent, done outside any measurement: a signed-in browser
 * for `home` and `session`, a new visitor with a login form for `login`, a new visitor for `write`.
 */
export async function prepare(device: Device, kind: RequestKind, browser?: Browser): Promise<Browser> {
  if (kind === 'home' || kind === 'session' || kind === 'settings') return browser ?? device.signedIn();
  const visitor = browser ?? device.browser();
  visitor.reset();
  if (kind === 'login') expect(await visitor.get('/login'), 200, 'GET /login');
  return visitor;
}

/** Sends one request of `kind` from a browser that `prepare` readied, and checks the answer. */
export async function send(kind: RequestKind, browser: Browser): Promise<TestResponse> {
  switch (kind) {
    case 'home': {
      const response = expect(await browser.get('/'), 200, 'GET /');
      if (!response.text.includes('csrf_token')) throw new Error('GET /: not the dashboard');
      return response;
    }
    case 'session': {
      const response = expect(await browser.get('/api/me'), 200, 'GET /api/me');
      if ((response.json as { user?: string }).user !== 'admin') throw new Error('GET /api/me: not admin');
      return response;
    }
    case 'write': {
      const response = expect(await browser.get('/login'), 200, 'GET /login');
      if (response.headers.getAll('set-cookie').length === 0) throw new Error('GET /login: no session cookie');
      return response;
    }
    case 'login': {
      const response = expect(await browser.post('/login', { username: 'admin', password: PASSWORD }), 303, 'POST /login');
      if (response.headers.get('location') !== '/') throw new Error('POST /login: not redirected to /');
      return response;
    }
    case 'static':
      return expect(await browser.get('/bench/static'), 200, 'GET /bench/static');
    case 'settings': {
      const response = expect(await browser.get('/settings'), 200, 'GET /settings');
      if (!response.text.includes('Add user')) throw new Error('GET /settings: not the settings page');
      return response;
    }
  }
}

/** The session cookie (`name=value`, as a browser sends it back) of a signed-in browser. */
export function sessionCookie(browser: Browser): string {
  const value = browser.client.cookies.get('session');
  if (value === undefined) throw new Error('no session cookie');
  return `session=${value}`;
}

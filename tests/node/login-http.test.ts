/**
 * The device login app end to end over real HTTP: `npm start`'s program in a child process, driven with
 * fetch (redirect: 'manual'), the setup code read from its console output.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_ITERATIONS } from '../../modules/auth/password';
import { newDataDir, removeDataDir, startLoginServer, type LoginServer } from './login-server';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a new secret phrase';
const dirs: string[] = [];
const servers: LoginServer[] = [];
after(async () => {
  for (const server of servers) await server.stop();
  for (const dir of dirs) removeDataDir(dir);
});

async function start(dataDir?: string, env?: Record<string, string>): Promise<LoginServer> {
  const dir = dataDir ?? newDataDir();
  if (dataDir === undefined) dirs.push(dir);
  const server = await startLoginServer(dir, env);
  servers.push(server);
  return server;
}

interface Page {
  status: number;
  headers: Headers;
  text: string;
}

/** fetch with a cookie jar, the latest form token, and a same-origin Origin on POSTs — as a browser would. */
class Client {
  readonly cookies = new Map<string, string>();
  token = '';
  constructor(readonly base: string) {}

  get(path: string): Promise<Page> {
    return this.request('GET', path);
  }

  post(path: string, form: Record<string, string>, headers: Record<string, string> = { Origin: this.base }): Promise<Page> {
    return this.request('POST', path, new URLSearchParams({ csrf_token: this.token, ...form }).toString(), headers);
  }

  async request(method: string, path: string, body?: string, extra: Record<string, string> = {}): Promise<Page> {
    const headers: Record<string, string> = { ...extra };
    if (this.cookies.size > 0) headers.Cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(this.base + path, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair.indexOf('=');
      if (/;\s*Max-Age=0/i.test(cookie)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const text = await response.text();
    const token = /name="csrf_token" value="([^"]*)"/.exec(text);
    if (token !== null) this.token = token[1];
    return { status: response.status, headers: response.headers, text };
  }

  async signIn(password: string): Promise<Page> {
    await this.get('/login');
    return this.post('/login', { username: 'admin', password });
  }
}

function assertHeaders(page: Page, what: string): void {
  assert.equal(page.headers.get('cache-control'), 'no-store', what);
  assert.equal(page.headers.get('x-frame-options'), 'DENY', what);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff', what);
  assert.equal(page.headers.get('referrer-policy'), 'same-origin', what);
  assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, what);
}

test('npm start: first boot prints the setup code; setup → login → dashboard → change password → logout over HTTP', async () => {
  const server = await start();
  assert.match(server.setupCode ?? '', /^[0-9A-Z]{4}-[0-9A-Z]{4}$/, server.output());
  const browser = new Client(server.url);

  const first = await browser.get('/');
  assert.equal(first.status, 303);
  assert.equal(first.headers.get('location'), '/setup');
  assertHeaders(first, 'redirect');
  const setup = await browser.get('/setup');
  assert.equal(setup.status, 200);
  assert.ok(!setup.text.includes(server.setupCode ?? '?'));
  assert.equal((await browser.post('/setup', { code: server.setupCode ?? '', password: PASSWORD, confirm: PASSWORD }, { Origin: 'http://evil.example' })).status, 403);
  const done = await browser.post('/setup', { code: server.setupCode ?? '', password: PASSWORD, confirm: PASSWORD });
  assert.equal(done.status, 303);
  assert.equal(done.headers.get('location'), '/login?m=setup');

  await browser.get('/login');
  assert.equal((await browser.post('/login', { username: 'admin', password: 'wrong password' })).status, 401);
  const signedIn = await browser.post('/login', { username: 'admin', password: PASSWORD });
  assert.equal(signedIn.status, 303);
  assert.equal(signedIn.headers.get('location'), '/');
  const dashboard = await browser.get('/');
  assert.equal(dashboard.status, 200);
  assertHeaders(dashboard, 'dashboard');
  assert.match(dashboard.text, /<dd>e2e device<\/dd>/);
  const me = await browser.get('/api/me');
  assert.equal(me.headers.get('content-type'), 'application/json');
  assert.equal((JSON.parse(me.text) as { user: string }).user, 'admin');

  const other = new Client(server.url);
  assert.equal((await other.signIn(PASSWORD)).status, 303);
  assert.equal((await other.get('/api/me')).status, 200);

  await browser.get('/settings/password');
  const changed = await browser.post('/settings/password', { old_password: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  assert.equal(changed.status, 303);
  assert.equal((await browser.get('/')).status, 200, 'this session survives');
  assert.equal((await other.get('/api/me')).status, 401, 'the other one is revoked');

  const out = await browser.post('/logout', {});
  assert.equal(out.status, 303);
  assert.equal(out.headers.get('location'), '/login?m=out');
  assert.equal((await browser.get('/')).headers.get('location'), '/login');
  assert.equal((await new Client(server.url).signIn(NEW_PASSWORD)).status, 303);

  const log = server.output();
  for (const secret of [PASSWORD, NEW_PASSWORD, ...other.cookies.values()]) assert.ok(!log.includes(secret), 'no password or token in the log');
});

test('npm start: state persists in XSDOT_DATA_DIR (0600, no plaintext); a restart keeps password and sessions', async () => {
  const dir = newDataDir();
  dirs.push(dir);
  const first = await start(dir);
  const browser = new Client(first.url);
  await browser.get('/setup');
  await browser.post('/setup', { code: first.setupCode ?? '', password: PASSWORD, confirm: PASSWORD });
  assert.equal((await browser.signIn(PASSWORD)).status, 303);
  await first.stop();

  const file = join(dir, '.sesskey');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  assert.match(stored['pw.admin'] ?? '', new RegExp(`^pbkdf2-sha256\\$${DEFAULT_ITERATIONS}\\$[\\w-]{22}\\$[\\w-]{43}$`));
  assert.ok(!readFileSync(file, 'utf8').includes(PASSWORD));

  const second = await start(dir);
  assert.equal(second.setupCode, undefined, 'no setup code once a password exists');
  const again = new Client(second.url);
  for (const [name, value] of browser.cookies) again.cookies.set(name, value);
  assert.equal((await again.get('/api/me')).status, 200, 'the session key came from the store');
  assert.equal((await new Client(second.url).signIn(PASSWORD)).status, 303);
});

test('npm start: XSDOT_SECRET_KEY sets the session key; a bad one stops start-up without echoing it', async () => {
  const key = 'ab'.repeat(32);
  const dir = newDataDir();
  dirs.push(dir);
  const first = await start(dir, { XSDOT_SECRET_KEY: key });
  const browser = new Client(first.url);
  await browser.get('/setup');
  await browser.post('/setup', { code: first.setupCode ?? '', password: PASSWORD, confirm: PASSWORD });
  await browser.signIn(PASSWORD);
  await first.stop();
  const stored = JSON.parse(readFileSync(join(dir, '.sesskey'), 'utf8')) as Record<string, string>;
  assert.equal(stored['xsdot.keys'], undefined, 'no key was generated into the store');

  const sameKey = await start(dir, { XSDOT_SECRET_KEY: key });
  const copy = new Client(sameKey.url);
  for (const [name, value] of browser.cookies) copy.cookies.set(name, value);
  assert.equal((await copy.get('/api/me')).status, 200);
  await sameKey.stop();
  const otherKey = await start(dir, { XSDOT_SECRET_KEY: 'cd'.repeat(32) });
  const stale = new Client(otherKey.url);
  for (const [name, value] of browser.cookies) stale.cookies.set(name, value);
  assert.equal((await stale.get('/api/me')).status, 401);

  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'hosts/node/start.ts'], {
    env: { ...process.env, PORT: '0', XSDOT_DATA_DIR: dir, XSDOT_SECRET_KEY: 'short-secret-value' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /XSDOT_SECRET_KEY/);
  assert.ok(!bad.stderr.includes('short-secret-value'));
});

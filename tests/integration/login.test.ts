/**
 * The device login app end to end over real HTTP, on whichever host XSDOT_TARGET names (tests/integration/
 * targets.ts): first boot with the setup code from the console, sign-in, the signed session cookie, CSRF,
 * password change revoking other sessions, sign-out, the key store on disk, a restart, throttling, and
 * users with roles (an admin adds a viewer; the viewer cannot open the settings; sign out everywhere).
 * The same assertions hold on Node and on the Moddable x-cli-lin executable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { DEFAULT_ITERATIONS } from '../../modules/auth/index';
import { tamperSignature } from '../support/tamper';
import { assertSecurityHeaders, Browser } from './client';
import { withTarget } from './harness';
import { ON_MODDABLE, REQUEST_MS, TARGET, type Target } from './targets';

const T = { timeout: ON_MODDABLE ? 120_000 : 60_000 };
const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a new secret phrase';
const DEVICE = 'e2e device';

function browser(target: Target): Browser {
  return new Browser(target.url, REQUEST_MS);
}

/** First boot: sets the admin password through /setup with the printed code. */
async function completeSetup(target: Target, password = PASSWORD): Promise<void> {
  const admin = browser(target);
  assert.equal((await admin.get('/setup')).status, 200);
  const done = await admin.post('/setup', { code: target.setupCode ?? '', password, confirm: password });
  assert.equal(done.status, 303, 'setup accepted');
}

test(`${TARGET}: first boot prints the setup code; setup → login → dashboard → change password → logout`, T, () => withTarget({ deviceName: DEVICE }, async (target) => {
  assert.match(target.setupCode ?? '', /^[0-9A-Z]{4}-[0-9A-Z]{4}$/, 'the setup code is on the console');
  const admin = browser(target);

  const first = await admin.get('/');
  assert.equal(first.status, 303);
  assert.equal(first.headers.get('location'), '/setup');
  assertSecurityHeaders(first, 'redirect');
  const api = await admin.get('/api/me');
  assert.equal(api.status, 401);
  assert.deepEqual(JSON.parse(api.text), { error: 'setup required' });

  const setup = await admin.get('/setup');
  assert.equal(setup.status, 200);
  assert.ok(!setup.text.includes(target.setupCode ?? '?'), 'the code is never sent over HTTP');
  assert.match(setup.text, /name="csrf_token" value="[\w-]{43}"/);
  const form = { code: target.setupCode ?? '', password: PASSWORD, confirm: PASSWORD };
  assert.equal((await admin.post('/setup', form, { Origin: 'http://evil.example' })).status, 403, 'cross-origin POST');
  assert.equal((await admin.post('/setup', { ...form, csrf_token: 'x'.repeat(43) })).status, 403, 'wrong CSRF token');
  const wrongCode = await admin.post('/setup', { ...form, code: 'AAAA-AAAA' });
  assert.equal(wrongCode.status, 401);
  assert.match(wrongCode.text, /Wrong setup code/);
  const short = await admin.post('/setup', { ...form, password: 'short', confirm: 'short' });
  assert.equal(short.status, 400);
  const done = await admin.post('/setup', form);
  assert.equal(done.status, 303);
  assert.equal(done.headers.get('location'), '/login?m=setup');
  assert.equal((await admin.get('/setup')).headers.get('location'), '/login', 'setup is closed');

  const login = await admin.get('/login?m=setup');
  assert.equal(login.status, 200);
  assert.match(login.text, /Password saved/);
  const staleToken = admin.token; // bound to the session that signing in replaces
  const before = admin.cookies.get('session');
  assert.equal((await admin.post('/login', { username: 'admin', password: 'wrong password' })).status, 401);
  const signedIn = await admin.post('/login', { username: 'admin', password: PASSWORD });
  assert.equal(signedIn.status, 303);
  assert.equal(signedIn.headers.get('location'), '/');
  const cookie = signedIn.headers.getSetCookie().find((c) => c.startsWith('session='));
  assert.match(cookie ?? '', /^session=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=28800; Path=\/; HttpOnly; SameSite=Lax$/);
  assert.notEqual(admin.cookies.get('session'), before, 'a new session at login');
  // Set from a session, and pages read from one: private to this browser (the app's no-store kept).
  for (const page of [signedIn, await admin.get('/')]) {
    assert.equal(page.headers.get('vary'), 'Cookie');
    assert.equal(page.headers.get('cache-control'), 'no-store');
  }

  const dashboard = await admin.get('/');
  assert.equal(dashboard.status, 200);
  assertSecurityHeaders(dashboard, 'dashboard');
  assert.match(dashboard.text, new RegExp(`<dd>${DEVICE}</dd>`));
  assert.match(dashboard.text, /<dt>Signed in as<\/dt><dd>admin<\/dd>/);
  const me = await admin.get('/api/me');
  assert.equal(me.headers.get('content-type'), 'application/json');
  const body = JSON.parse(me.text) as { user: string; device: string; expiresIn: number };
  assert.equal(body.user, 'admin');
  assert.equal(body.device, DEVICE);
  assert.ok(body.expiresIn > 28_000 && body.expiresIn <= 28_800, `expiresIn ${body.expiresIn}`);

  // A token whose signature differs in one decoded byte is no session at all.
  const forged = browser(target);
  const token = admin.cookies.get('session') ?? '';
  const tampered = tamperSignature(token);
  assert.notEqual(tampered, token);
  forged.cookies.set('session', tampered);
  assert.equal((await forged.get('/api/me')).status, 401);
  assert.equal((await forged.get('/')).headers.get('location'), '/login');

  // What once overflowed the simulator's stack: an error page, a form posted with the CSRF token of an
  // earlier session, an oversized cookie (a head over the limit: http.test.ts). Each gets its answer,
  // and the server goes on.
  const missing = await admin.get('/no/such/page');
  assert.equal(missing.status, 404);
  assert.match(missing.text, /Not Found/);
  assertSecurityHeaders(missing, '404 page');
  const freshToken = admin.token;
  admin.token = staleToken;
  const stale = await admin.post('/settings/password', { old_password: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  assert.equal(stale.status, 403, 'a CSRF token of the session before sign-in');
  admin.token = freshToken;
  const oversized = browser(target);
  oversized.cookies.set('session', 'A'.repeat(1500));
  assert.equal((await oversized.get('/')).headers.get('location'), '/login', 'a 1.5 KB cookie is no session');
  assert.equal((await admin.get('/')).status, 200, 'still serving');

  const other = browser(target);
  assert.equal((await other.signIn(PASSWORD)).status, 303);
  assert.equal((await other.get('/api/me')).status, 200);

  await admin.get('/settings/password');
  const wrongOld = await admin.post('/settings/password', { old_password: 'not it at all', password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  assert.equal(wrongOld.status, 401);
  const changed = await admin.post('/settings/password', { old_password: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  assert.equal(changed.status, 303);
  assert.equal((await admin.get('/')).status, 200, 'this session survives');
  assert.equal((await other.get('/api/me')).status, 401, 'the other one is revoked');

  const out = await admin.post('/logout', {});
  assert.equal(out.status, 303);
  assert.equal(out.headers.get('location'), '/login?m=out');
  assert.equal((await admin.get('/')).headers.get('location'), '/login');
  assert.equal((await browser(target).signIn(PASSWORD)).status, 401, 'the old password is gone');
  assert.equal((await browser(target).signIn(NEW_PASSWORD)).status, 303);

  const log = target.output();
  for (const secret of [PASSWORD, NEW_PASSWORD, ...other.cookies.values()]) assert.ok(!log.includes(secret), 'no password or token in the log');
}));

test(`${TARGET}: state persists in the key store (0600, no plaintext); a restart keeps password and sessions`, T, async () => {
  let dataDir = '';
  let cookies = new Map<string, string>();
  await withTarget({}, async (first) => {
    dataDir = first.dataDir;
    await completeSetup(first);
    const admin = browser(first);
    assert.equal((await admin.signIn(PASSWORD)).status, 303);
    cookies = admin.cookies;
    assert.match(first.output(), /admin password set/);
  });

  assert.equal(statSync(storeFileOf(dataDir)).mode & 0o777, 0o600, 'the store file is private');
  await withTarget({ dataDir }, async (second) => {
    const stored = second.readStore();
    assert.match(stored['pw.admin'] ?? '', new RegExp(`^pbkdf2-sha256\\$${DEFAULT_ITERATIONS}\\$[\\w-]{22}\\$[\\w-]{43}$`));
    assert.ok(Object.keys(stored).every((key) => key.length <= 15), `store keys fit NVS (≤ 15): ${Object.keys(stored).join(', ')}`);
    assert.ok(!JSON.stringify(stored).includes(PASSWORD));
    assert.equal(second.setupCode, undefined, 'no setup code once a password exists');
    const again = browser(second);
    for (const [name, value] of cookies) again.cookies.set(name, value);
    assert.equal((await again.get('/api/me')).status, 200, 'the session key came from the store');
    assert.equal((await browser(second).signIn(PASSWORD)).status, 303);
  });
});

function storeFileOf(dataDir: string): string {
  return ON_MODDABLE ? `${dataDir}/modpreferences.json` : `${dataDir}/.sesskey`;
}

test(`${TARGET}: wrong passwords are throttled per client: three free failures, then 429 with Retry-After`, T, () => withTarget({}, async (target) => {
  await completeSetup(target);
  const guesser = browser(target);
  await guesser.get('/login');
  // Three failures are free; the fourth is answered, and makes the client wait 1 s before the next try.
  for (let i = 0; i < 4; i++) {
    assert.equal((await guesser.post('/login', { username: 'admin', password: `guess number ${i}` })).status, 401, `failure ${i + 1}`);
  }
  const blocked = await guesser.post('/login', { username: 'admin', password: PASSWORD });
  assert.equal(blocked.status, 429, 'even the right password waits');
  const wait = Number(blocked.headers.get('retry-after'));
  assert.ok(wait >= 1 && wait <= 2, `Retry-After ${wait}`);
  assert.match(blocked.text, /Too many failed attempts/);
  await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 200));
  assert.equal((await guesser.post('/login', { username: 'admin', password: PASSWORD })).status, 303, 'after the wait');
}));

test(`${TARGET}: an admin adds a viewer, who signs in but gets 403 on the settings; role changes and sign out everywhere revoke; the table survives a restart`, T, async () => {
  const VIEWER = 'viewer pass phrase';
  let dataDir = '';
  await withTarget({}, async (target) => {
    dataDir = target.dataDir;
    await completeSetup(target);
    const admin = browser(target);
    assert.equal((await admin.signIn(PASSWORD)).status, 303);
    assert.equal((await admin.get('/settings')).status, 200);
    const added = await admin.post('/settings', { action: 'add', username: 'bob', role: 'viewer', password: VIEWER, confirm: VIEWER });
    assert.equal(added.status, 303);
    const taken = await admin.post('/settings', { action: 'add', username: 'bob', role: 'viewer', password: VIEWER, confirm: 'other phrase' });
    assert.equal(taken.status, 409, 'a taken name');
    assert.match(taken.text, /name="username" value="bob"/);
    assert.ok(!taken.text.includes(VIEWER), 'no password echoed');

    const bob = browser(target);
    assert.equal((await bob.signIn(VIEWER, 'bob')).status, 303);
    assert.match((await bob.get('/')).text, /<dt>Signed in as<\/dt><dd>bob<\/dd>/);
    const denied = await bob.get('/settings');
    assert.equal(denied.status, 403);
    assertSecurityHeaders(denied, '403 page');
    await bob.get('/account');
    assert.equal((await bob.post('/settings', { action: 'role', user: 'bob', role: 'admin' })).status, 403, 'a viewer cannot promote itself');
    const laptop = browser(target);
    assert.equal((await laptop.signIn(VIEWER, 'bob')).status, 303);
    assert.match((await bob.get('/account')).text, /<dt>Role<\/dt><dd>viewer<\/dd><dt>Sessions<\/dt><dd>2<\/dd>/);
    const everywhere = await bob.post('/logout', { everywhere: '1' });
    assert.equal(everywhere.headers.get('location'), '/login?m=all');
    assert.equal((await laptop.get('/api/me')).status, 401, 'the other session ended');

    assert.equal((await bob.signIn(VIEWER, 'bob')).status, 303);
    await admin.get('/settings?user=bob');
    assert.equal((await admin.post('/settings', { action: 'remove', user: 'admin' })).status, 409, 'the last admin stays');
    assert.equal((await admin.post('/settings', { action: 'role', user: 'bob', role: 'admin' })).status, 303);
    assert.equal((await bob.get('/api/me')).status, 401, 'a role change revokes');
    assert.equal((await bob.signIn(VIEWER, 'bob')).status, 303);
    assert.equal((await bob.get('/settings')).status, 200, 'an admin now');

    assert.equal((await browser(target).signIn('wrong password', 'bob')).status, 401);
    assert.equal((await browser(target).signIn('wrong password', 'nobody')).status, 401);
    const log = target.output();
    assert.match(log, /failed login for user "bob" from /);
    assert.match(log, /failed login for an unknown user name from /);
    for (const secret of [PASSWORD, VIEWER, 'wrong password', 'nobody', ...bob.cookies.values()]) assert.ok(!log.includes(secret), 'no password, unknown name or token in the log');
  });
  await withTarget({ dataDir }, async (second) => {
    const stored = second.readStore();
    assert.match(stored['xsdot.users'] ?? '', /^v1\|admin=a:[\d,]*\|bob=a:\d+$/);
    assert.ok(Object.keys(stored).every((key) => key.length <= 15), `store keys fit NVS (≤ 15): ${Object.keys(stored).join(', ')}`);
    assert.equal((await browser(second).signIn(VIEWER, 'bob')).status, 303, 'bob is still a user after the restart');
  });
});

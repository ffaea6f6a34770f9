import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryFiles } from '../../modules/http/static';
import { TestClient, type TestResponse } from '../../modules/http/testclient';
import { installRuntime } from '../../modules/runtime';
import { assertSecurityHeaders, base, boot, failingStore, KEY, ORIGIN, PASSWORD, setUp, signIn, type Device } from '../support/login-device';

afterEach(() => installRuntime(base));

// --- First boot ---------------------------------------------------------------------------------------

test('the stylesheet: a static file for anyone, even before setup, revalidated by ETag (304); every page links it', async () => {
  const device = boot({ assets: memoryFiles({ 'style.css': 'body{color:red}' }) });
  const browser = device.browser();
  const css = await browser.get('/static/style.css');
  assert.equal(css.status, 200, 'not redirected to /setup');
  assert.equal(css.text, 'body{color:red}');
  assert.equal(css.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal(css.headers.get('cache-control'), 'no-cache');
  const etag = css.headers.get('etag') ?? '';
  assert.match(etag, /^"[0-9a-f]{16}"$/);
  assert.equal(css.headers.get('set-cookie'), undefined, 'no session for a static file');
  const again = await browser.client.get('/static/style.css', { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  assert.equal((await browser.get('/static/%2e%2e/main.ts')).status, 404, 'dot segments leave /static/: no route');
  assert.equal((await browser.get('/static/other.css')).status, 404);
  const page = await browser.get('/setup');
  assert.ok(page.text.includes('<link rel="stylesheet" href="/static/style.css">'));
  assert.ok(!page.text.includes('<style'));
});

test('first boot: a setup code is printed on the console, every page redirects to /setup, the code is never served', async () => {
  const device = boot();
  assert.match(device.code ?? '', /^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  assert.equal(device.logs.filter((line) => line.includes('setup code:')).length, 1);
  const browser = device.browser();
  for (const path of ['/', '/login', '/settings/password', '/?m=pw']) {
    const response = await browser.get(path);
    assert.equal(response.status, 303, path);
    assert.equal(response.headers.get('location'), '/setup', path);
    assertSecurityHeaders(response, `GET ${path}`);
  }
  const api = await browser.get('/api/me');
  assert.equal(api.status, 401);
  assert.deepEqual(api.json, { error: 'setup required' });
  const setup = await browser.get('/setup');
  assert.equal(setup.status, 200);
  assert.ok(!setup.text.includes(device.code ?? '?'), 'the page does not contain the code');
  assert.ok(!setup.headers.getAll('set-cookie').join().includes(device.code ?? '?'));
  for (const name of ['code', 'password', 'confirm', 'csrf_token']) assert.match(setup.text, new RegExp(`name="${name}"`));
  assert.equal((await browser.post('/login', { username: 'admin', password: 'whatever it is' })).headers.get('location'), '/setup');
});

test('setup: a wrong or missing code is refused (401) and throttled per address; the right code sets the password', async () => {
  const device = boot();
  const browser = device.browser();
  await browser.get('/setup');
  const wrong = await browser.post('/setup', { code: 'AAAA-AAAA', password: PASSWORD, confirm: PASSWORD });
  assert.equal(wrong.status, 401);
  assert.match(wrong.text, /Wrong setup code/);
  assert.equal((await browser.post('/setup', { password: PASSWORD, confirm: PASSWORD })).status, 401, 'missing code');
  assert.equal((await browser.post('/setup', { code: '', password: PASSWORD, confirm: PASSWORD })).status, 401, 'empty code');
  assert.equal((await browser.post('/setup', { code: 'BBBB-BBBB', password: PASSWORD, confirm: PASSWORD })).status, 401, 'fourth failure');
  const throttled = await browser.post('/setup', { code: device.code ?? '', password: PASSWORD, confirm: PASSWORD });
  assert.equal(throttled.status, 429, 'even the right code waits');
  assert.equal(throttled.headers.get('retry-after'), '1');
  assert.match(throttled.text, /Too many failed attempts\. Try again in 1 s\./);
  assertSecurityHeaders(throttled, '429');
  const other = device.browser('192.0.2.11');
  await other.get('/setup');
  assert.equal((await other.post('/setup', { code: 'CCCC-CCCC', password: PASSWORD, confirm: PASSWORD })).status, 401, 'another address is not throttled');
  device.advance(1);
  const done = await browser.post('/setup', { code: (device.code ?? '').toLowerCase().replace('-', ' '), password: PASSWORD, confirm: PASSWORD });
  assert.equal(done.status, 303);
  assert.equal(done.headers.get('location'), '/login?m=setup');
  assert.match(device.store.get('pw.admin') ?? '', /^pbkdf2-sha256\$2\$/);
  const login = await browser.get('/login?m=setup');
  assert.match(login.text, /Password saved\. Sign in with it\./);
});

test('setup: password rules (8–64 characters, typed twice) give clear messages; setup closes once done', async () => {
  const device = boot();
  const browser = device.browser();
  await browser.get('/setup');
  const code = device.code ?? '';
  const cases: [string, string, RegExp][] = [
    ['short', 'short', /at least 8 characters/],
    ['x'.repeat(65), 'x'.repeat(65), /at most 64 characters/],
    [PASSWORD, PASSWORD + '!', /do not match/],
    ['', '', /at least 8/],
  ];
  for (const [password, confirm, message] of cases) {
    const response = await browser.post('/setup', { code, password, confirm });
    assert.equal(response.status, 400, String(message));
    assert.match(response.text, message);
    assert.ok(!response.text.includes(password) || password === '', 'the password is not echoed');
  }
  assert.equal(device.store.has('pw.admin'), false);
  assert.equal((await browser.post('/setup', { code, password: PASSWORD, confirm: PASSWORD })).status, 303);
  // Closed: neither the old code nor any other sets a password now.
  assert.equal((await browser.get('/setup')).headers.get('location'), '/login');
  const again = await browser.post('/setup', { code, password: 'attacker password', confirm: 'attacker password' });
  assert.equal(again.status, 303);
  assert.equal(again.headers.get('location'), '/login');
  assert.equal((await signIn(device.browser('192.0.2.12'), 'attacker password')).status, 401);
  assert.equal((await signIn(device.browser('192.0.2.13'))).status, 303);
});

test('a reboot with a password set prints no setup code and keeps the password', async () => {
  const device = await setUp();
  const rebooted = device.reboot();
  assert.equal(rebooted.code, undefined);
  assert.ok(!rebooted.logs.some((line) => line.includes('setup code')));
  assert.equal((await rebooted.browser().get('/')).headers.get('location'), '/login');
  assert.equal((await signIn(rebooted.browser())).status, 303);
});

// --- The main flow --------------------------------------------------------------------------------------

test('setup → login → dashboard → change password (other sessions revoked, this one kept) → logout', async () => {
  const device = await setUp({ deviceName: 'Kitchen <Sensor> & "Co"' });
  const phone = device.browser('192.0.2.20');
  const laptop = device.browser('192.0.2.21');

  const login = await phone.get('/login');
  assert.equal(login.status, 200);
  const anonymous = phone.client.cookies.get('session');
  assert.ok(anonymous, 'GET /login saves an anonymous session for the form token');
  const signedIn = await phone.post('/login', { username: 'admin', password: PASSWORD });
  assert.equal(signedIn.status, 303);
  assert.equal(signedIn.headers.get('location'), '/');
  assert.notEqual(phone.client.cookies.get('session'), anonymous, 'a new session at login');
  assert.equal((await signIn(laptop)).status, 303);

  const dashboard = await phone.get('/');
  assert.equal(dashboard.status, 200);
  assert.match(dashboard.text, /Kitchen &lt;Sensor&gt; &amp; &quot;Co&quot;/);
  assert.ok(!dashboard.text.includes('<Sensor>'));
  assert.match(dashboard.text, /<dt>Signed in as<\/dt><dd>admin<\/dd>/);
  assert.match(dashboard.text, /<dt>Uptime<\/dt><dd id="uptime">5 s<\/dd>/);
  assert.match(dashboard.text, /<dt>Session ends<\/dt><dd>in 8 h 0 min, or after 30 min without activity<\/dd>/);
  assert.ok(!dashboard.text.includes('Free memory'), 'the Node runtime cannot tell');
  assert.deepEqual((await phone.get('/api/me')).json, { user: 'admin', device: 'Kitchen <Sensor> & "Co"', uptime: 5, expiresIn: 28_800 });

  device.advance(60);
  const form = await phone.get('/settings/password');
  assert.equal(form.status, 200);
  for (const name of ['old_password', 'password', 'confirm']) assert.match(form.text, new RegExp(`<label for="${name}">`));
  const changed = await phone.post('/settings/password', { old_password: PASSWORD, password: 'new secret phrase', confirm: 'new secret phrase' });
  assert.equal(changed.status, 303);
  assert.equal(changed.headers.get('location'), '/?m=pw');
  const after = await phone.get('/?m=pw');
  assert.equal(after.status, 200, 'the session that changed the password survives');
  assert.match(after.text, /Password changed\. Every other session was signed out\./);
  assert.equal((await laptop.get('/')).headers.get('location'), '/login', 'the other session is revoked');
  assert.equal((await laptop.get('/api/me')).status, 401);

  const logout = await phone.post('/logout', {});
  assert.equal(logout.status, 303);
  assert.equal(logout.headers.get('location'), '/login?m=out');
  assert.equal(phone.client.cookies.has('session'), false, 'the cookie is expired');
  assert.match((await phone.get('/login?m=out')).text, /Signed out\./);
  assert.equal((await phone.get('/')).headers.get('location'), '/login');
  assert.deepEqual((await phone.get('/api/me')).json, { error: 'not signed in' });

  assert.equal((await signIn(phone, PASSWORD)).status, 401, 'the old password is gone');
  assert.equal((await signIn(phone, 'new secret phrase')).status, 303);
});

test('a copy of the cookie taken before a password change no longer works', async () => {
  const device = await setUp();
  const phone = device.browser();
  await signIn(phone);
  const copy = phone.client.cookies.get('session') ?? '';
  await phone.get('/settings/password');
  await phone.post('/settings/password', { old_password: PASSWORD, password: 'new secret phrase', confirm: 'new secret phrase' });
  const thief = device.browser('192.0.2.66');
  thief.client.cookies.set('session', copy);
  assert.equal((await thief.get('/api/me')).status, 401);
});

test('change password: wrong current password (401, throttled), rule breaks (400), nothing changes', async () => {
  const device = await setUp();
  const phone = device.browser();
  await signIn(phone);
  await phone.get('/settings/password');
  const wrong = await phone.post('/settings/password', { old_password: 'not the password', password: 'new secret phrase', confirm: 'new secret phrase' });
  assert.equal(wrong.status, 401);
  assert.match(wrong.text, /The current password is wrong\./);
  const short = await phone.post('/settings/password', { old_password: PASSWORD, password: 'short', confirm: 'short' });
  assert.equal(short.status, 400);
  assert.match(short.text, /at least 8 characters/);
  const mismatch = await phone.post('/settings/password', { old_password: PASSWORD, password: 'new secret phrase', confirm: 'other phrase!' });
  assert.equal(mismatch.status, 400);
  for (let i = 0; i < 3; i++) await phone.post('/settings/password', { old_password: 'guess ' + i, password: 'new secret phrase', confirm: 'new secret phrase' });
  const throttled = await phone.post('/settings/password', { old_password: PASSWORD, password: 'new secret phrase', confirm: 'new secret phrase' });
  assert.equal(throttled.status, 429);
  assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
  assert.equal((await signIn(device.browser('192.0.2.50'))).status, 303, 'the password is unchanged');
});

// --- Wrong credentials and throttling --------------------------------------------------------------------

test('wrong credentials: the same form again, 401, one generic message; the password is never echoed', async () => {
  const device = await setUp();
  const browser = device.browser();
  await browser.get('/login');
  const badPassword = await browser.post('/login', { username: 'admin', password: 'not it at all' });
  const badUser = await browser.post('/login', { username: 'root', password: PASSWORD });
  for (const response of [badPassword, badUser]) {
    assert.equal(response.status, 401);
    assert.match(response.text, /<p class="err" role="alert">Wrong user name or password\.<\/p>/);
    assert.match(response.text, /<form class="box" method="post" action="\/login">/);
    assertSecurityHeaders(response, 'login 401');
  }
  assert.ok(!badPassword.text.includes('not it at all'));
  assert.ok(!badUser.text.includes(PASSWORD));
  assert.match(badUser.text, /name="username" value="root"/, 'the user name is kept');
  assert.equal(browser.client.cookies.has('session'), true);
  assert.equal((await browser.get('/')).headers.get('location'), '/login', 'no session was started');
});

test('login throttling: backoff per address with Retry-After, not bypassed by dropping cookies; success resets', async () => {
  const device = await setUp();
  const attacker = device.browser('192.0.2.30');
  const statuses: number[] = [];
  await attacker.get('/login');
  for (let i = 0; i < 5; i++) statuses.push((await attacker.post('/login', { username: 'admin', password: `guess number ${i}` })).status);
  assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
  const limited = await attacker.post('/login', { username: 'admin', password: PASSWORD });
  assert.equal(limited.status, 429, 'the right password waits too');
  assert.equal(limited.headers.get('retry-after'), '1');
  assert.match(limited.text, /Too many failed attempts/);

  const fresh = device.browser('192.0.2.30');
  assert.equal((await signIn(fresh)).status, 429, 'new cookies, same address: still throttled');
  assert.equal((await signIn(device.browser('192.0.2.31'))).status, 303, 'another address is not');

  device.advance(1);
  assert.equal((await attacker.post('/login', { username: 'admin', password: 'guess again' })).status, 401);
  const doubled = await attacker.post('/login', { username: 'admin', password: PASSWORD });
  assert.equal(doubled.status, 429);
  assert.equal(doubled.headers.get('retry-after'), '2', 'the wait doubles');
  device.advance(2);
  assert.equal((await attacker.post('/login', { username: 'admin', password: PASSWORD })).status, 303);
  await attacker.get('/');
  assert.equal((await attacker.post('/logout', {})).status, 303);
  await attacker.get('/login');
  for (let i = 0; i < 3; i++) assert.equal((await attacker.post('/login', { username: 'admin', password: `typo ${i}` })).status, 401, 'free failures again after a success');
});

test('IPv4-mapped IPv6 peers share the IPv4 address throttle entry', async () => {
  const device = await setUp();
  const v4 = device.browser('192.0.2.40');
  await v4.get('/login');
  for (let i = 0; i < 4; i++) await v4.post('/login', { username: 'admin', password: `guess number ${i}` });
  assert.equal((await signIn(device.browser('::ffff:192.0.2.40'))).status, 429);
});

// --- CSRF ----------------------------------------------------------------------------------------------

test('CSRF: state-changing requests without a same-origin Origin (or Referer) are refused with 403', async () => {
  const device = await setUp();
  const browser = device.browser();
  await browser.get('/login');
  const form = { username: 'admin', password: PASSWORD };
  const foreign: Record<string, string>[] = [{}, { Origin: 'http://evil.example' }, { Origin: 'null' }, { Origin: 'http://localhost:8080' }, { Referer: 'http://evil.example/' }];
  for (const headers of foreign) {
    const response = await browser.post('/login', form, headers);
    assert.equal(response.status, 403, JSON.stringify(headers));
    assertSecurityHeaders(response, `403 ${JSON.stringify(headers)}`);
  }
  assert.equal((await browser.post('/login', form, { Referer: 'http://localhost/login' })).status, 303, 'a same-origin Referer will do');
  // Signed in: a cross-origin logout or password change does nothing.
  assert.equal((await browser.post('/logout', {}, { Origin: 'http://evil.example' })).status, 403);
  assert.equal((await browser.post('/settings/password', { old_password: PASSWORD, password: 'evil password', confirm: 'evil password' }, { Origin: 'http://evil.example' })).status, 403);
  assert.equal((await browser.get('/api/me')).status, 200, 'still signed in');
});

test('CSRF: a missing, wrong or other-session token is refused with 403; the token before login is void after it', async () => {
  const device = await setUp();
  const victim = device.browser('192.0.2.60');
  const attacker = device.browser('192.0.2.61');
  await victim.get('/login');
  const loginToken = victim.token;
  await attacker.get('/login');
  const form = { username: 'admin', password: PASSWORD };
  assert.equal((await victim.client.post('/login', { form, headers: ORIGIN })).status, 403, 'missing');
  assert.equal((await victim.client.post('/login', { form: { ...form, csrf_token: 'A'.repeat(43) }, headers: ORIGIN })).status, 403, 'wrong');
  assert.equal((await victim.client.post('/login', { form: { ...form, csrf_token: attacker.token }, headers: ORIGIN })).status, 403, "another session's");
  assert.equal((await victim.client.post('/login', { form: { ...form, csrf_token: loginToken }, headers: ORIGIN })).status, 303);
  const stale = await victim.client.post('/logout', { form: { csrf_token: loginToken }, headers: ORIGIN });
  assert.equal(stale.status, 403, 'login regenerated the session id');
  assert.match(stale.text, /The form has expired\. Reload the page and try again\./);
  await victim.get('/');
  assert.notEqual(victim.token, loginToken);
  assert.equal((await victim.post('/logout', {})).status, 303);
});

test('login CSRF: a forged login needs a token bound to the victim\'s own anonymous session', async () => {
  const device = await setUp();
  const attacker = device.browser('192.0.2.70');
  await attacker.get('/login');
  // The attacker's page makes the victim's browser post the attacker's token: the victim has no session with that sid.
  const victim = device.browser('192.0.2.71');
  const forged = await victim.client.post('/login', { form: { username: 'admin', password: PASSWORD, csrf_token: attacker.token }, headers: ORIGIN });
  assert.equal(forged.status, 403);
});

// --- Hostile input -------------------------------------------------------------------------------------

test('hostile input: huge bodies and too many fields (413), missing and repeated fields, markup, unicode', async () => {
  const device = await setUp();
  const browser = device.browser();
  await browser.get('/login');
  const huge = await browser.post('/login', { username: 'admin', password: 'x'.repeat(5000) });
  assert.equal(huge.status, 413, 'over maxBody (4 KB by default)');
  const many: Record<string, string> = {};
  for (let i = 0; i < 40; i++) many[`f${i}`] = '1';
  assert.equal((await browser.post('/login', many)).status, 413, 'over maxFormFields');
  assert.equal((await browser.post('/login', {})).status, 401, 'missing fields are wrong credentials, not a crash');
  const repeated = await browser.client.post('/login', {
    body: `csrf_token=${browser.token}&username=admin&password=a&password=${encodeURIComponent(PASSWORD)}`,
    headers: { ...ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(repeated.status, 400);
  assert.match(repeated.text, /sent more than once/);
  assertSecurityHeaders(repeated, '400');
  const markup = await browser.post('/login', { username: '"><script>alert(1)</script>', password: 'irrelevant!' });
  assert.equal(markup.status, 401);
  assert.ok(!markup.text.includes('<script>'));
  assert.match(markup.text, /value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/);
  const json = await browser.client.post('/login', { json: { username: 'admin', password: PASSWORD, csrf_token: browser.token }, headers: ORIGIN });
  assert.equal(json.status, 403, 'a JSON body carries no form token');
  assert.equal((await browser.post('/login', { username: 'admin\0', password: PASSWORD })).status, 401);
  assert.equal((await browser.post('/login', { username: ' Admin ', password: PASSWORD })).status, 303, 'user name case and spaces are forgiven');
});

test('unicode passwords: set and used byte for byte; 64 emoji are allowed, 65 are not', async () => {
  const device = boot();
  const browser = device.browser();
  await browser.get('/setup');
  const emoji = '🔑'.repeat(64);
  const tooLong = await browser.post('/setup', { code: device.code ?? '', password: emoji + '🔑', confirm: emoji + '🔑' });
  assert.equal(tooLong.status, 400);
  assert.equal((await browser.post('/setup', { code: device.code ?? '', password: emoji, confirm: emoji })).status, 303);
  assert.equal((await signIn(device.browser('192.0.2.80'), emoji)).status, 303);
  await browser.get('/login');
  assert.equal((await browser.post('/login', { username: 'admin', password: '🔑'.repeat(63) })).status, 401);
  const other = await setUp();
  const mixed = other.browser();
  await signIn(mixed);
  await mixed.get('/settings/password');
  const phrase = 'Grüße, 世界 — ça va?';
  assert.equal((await mixed.post('/settings/password', { old_password: PASSWORD, password: phrase, confirm: phrase })).status, 303);
  assert.equal((await signIn(other.browser('192.0.2.81'), phrase)).status, 303);
});

// --- Headers, methods, sizes -----------------------------------------------------------------------------

test('security headers on every page, redirect, error and JSON answer', async () => {
  const device = await setUp();
  const browser = device.browser();
  const responses: [string, TestResponse][] = [];
  const record = (what: string, response: TestResponse) => responses.push([what, response]);
  record('GET /login', await browser.get('/login'));
  record('GET / (signed out)', await browser.get('/'));
  record('GET /api/me (signed out)', await browser.get('/api/me'));
  record('POST /login', await browser.post('/login', { username: 'admin', password: PASSWORD }));
  record('GET /', await browser.get('/'));
  record('GET /settings/password', await browser.get('/settings/password'));
  record('GET /api/me', await browser.get('/api/me'));
  record('GET /setup (closed)', await browser.get('/setup'));
  record('GET /nowhere (404)', await browser.get('/nowhere'));
  record('GET /logout (405)', await browser.get('/logout'));
  record('HEAD /', await browser.client.head('/'));
  record('POST /logout', await browser.post('/logout', {}));
  for (const [what, response] of responses) assertSecurityHeaders(response, what);
  const notFound = responses.find(([what]) => what.includes('404'))?.[1];
  assert.equal(notFound?.status, 404);
  assert.match(notFound?.headers.get('content-type') ?? '', /^text\/html/);
  const notAllowed = responses.find(([what]) => what.includes('405'))?.[1];
  assert.equal(notAllowed?.status, 405);
  assert.equal(notAllowed?.headers.get('allow'), 'POST');
  const cookie = responses[0][1].headers.get('set-cookie') ?? '';
  assert.match(cookie, /; HttpOnly; SameSite=Lax$/);
});

test('pages are small, labelled, phone-ready HTML without external assets', async () => {
  const device = boot();
  const browser = device.browser();
  const setup = await browser.get('/setup');
  await browser.post('/setup', { code: device.code ?? '', password: PASSWORD, confirm: PASSWORD });
  const login = await browser.get('/login');
  const failed = await browser.post('/login', { username: 'admin', password: 'wrong password' });
  await browser.post('/login', { username: 'admin', password: PASSWORD });
  const dashboard = await browser.get('/?m=pw');
  const settings = await browser.get('/settings/password');
  const notFound = await browser.get('/nowhere');
  const sizes: Record<string, number> = {};
  for (const [name, page] of Object.entries({ setup, login, failed, dashboard, settings, notFound })) {
    sizes[name] = page.body.length;
    assert.ok(page.body.length < 3072, `${name} is ${page.body.length} bytes`);
    assert.match(page.text, /^<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">/);
    // The dashboard's one script is its own (app/live.ts), from this origin.
    const text = name === 'dashboard' ? page.text.replace('<script src="/live/status.js" defer></script>', '') : page.text;
    assert.ok(!/<script|src=|https?:\/\/|style="/.test(text), `${name}: no scripts but the dashboard's own, no external assets or inline style attributes`);
    for (const [, id] of page.text.matchAll(/<input id="([^"]+)"/g)) assert.ok(page.text.includes(`<label for="${id}">`), `${name}: #${id} has a label`);
  }
  console.log(`page sizes (bytes): ${JSON.stringify(sizes)}`);
});

test('the dashboard shows free memory where the host can tell', async () => {
  const device = boot({}, new Map(), { freeMemory: () => 41_234 });
  const browser = device.browser();
  await browser.get('/setup');
  await browser.post('/setup', { code: device.code ?? '', password: PASSWORD, confirm: PASSWORD });
  await signIn(browser);
  assert.match((await browser.get('/')).text, /<dt>Free memory<\/dt><dd id="free-memory">41234 bytes<\/dd>/);
});

test('idle sessions end; the login page then starts a new anonymous session', async () => {
  const device = await setUp({ session: { keys: [{ kid: 'k1', key: KEY }], idleTimeout: 600 } });
  const browser = device.browser();
  await signIn(browser);
  device.advance(700);
  assert.equal((await browser.get('/')).headers.get('location'), '/login');
  assert.equal((await browser.get('/login')).status, 200);
  assert.equal((await browser.post('/login', { username: 'admin', password: PASSWORD })).status, 303);
});

// --- Issue 12: DNS rebinding, logout, atomic password change ------------------------------------------------

test('DNS rebinding: /login, /setup and /logout naming another host get 421 and no session; the device name works', async () => {
  const device = boot();
  const rebound = device.browser('192.0.2.77');
  const evil = { Host: 'attacker.example', Origin: 'http://attacker.example' };
  await rebound.get('/setup');
  const setup = await rebound.client.post('/setup', { form: { csrf_token: rebound.token, code: device.code ?? '', password: PASSWORD, confirm: PASSWORD }, headers: evil });
  assert.equal(setup.status, 421);
  assertSecurityHeaders(setup, '421 page');
  assert.match(setup.text, /does not answer to that host name/);
  assert.equal((await rebound.post('/setup', { code: device.code ?? '', password: PASSWORD, confirm: PASSWORD })).status, 303, 'the same form via localhost');
  await rebound.get('/login');
  for (const path of ['/login', '/logout']) {
    const answer = await rebound.client.post(path, { form: { csrf_token: rebound.token, username: 'admin', password: PASSWORD }, headers: evil });
    assert.equal(answer.status, 421, path);
    assert.equal(answer.headers.get('set-cookie'), undefined, `${path}: no session`);
  }
  assert.equal((await rebound.client.get('/api/me', { headers: { Host: 'attacker.example' } })).status, 421);
});

test('logout ends the session: a copied cookie replayed afterwards is 401, never re-issued, also after a reboot', async () => {
  const device = await setUp();
  const phone = device.browser('192.0.2.20');
  const laptop = device.browser('192.0.2.21');
  await signIn(phone);
  await signIn(laptop);
  const copy = phone.client.cookies.get('session') ?? '';
  // Verified once, so the key ring remembers this very token: the logout must end it all the same.
  await phone.get('/');
  assert.equal((await phone.post('/logout', {})).status, 303);
  const replay = async (target: Device) => {
    const thief = new TestClient(target.app, { clientAddress: '192.0.2.66', allowedHosts: ['localhost'] });
    const answer = await thief.get('/api/me', { headers: { Cookie: `session=${copy}` } });
    assert.equal(answer.status, 401);
    assert.ok(!(answer.headers.get('set-cookie') ?? '').includes(copy.slice(0, 20)), 'no refreshed token');
    return answer;
  };
  await replay(device);
  device.advance(20 * 60); // past half the idle window: a live token would be re-issued now
  await replay(device);
  assert.equal((await laptop.get('/api/me')).status, 200, 'the other session of the same user lives on');
  const stored = device.store.get('xsdot.rev') ?? '';
  assert.match(stored, /^v1\|\d+\|\|[\w-]+@\d+$/, 'one sid in the record, no generation raised');
  await replay(device.reboot());
});

test('logout: anonymous sessions write nothing; a full list ends every session of the user; expired ids make room', async () => {
  const device = await setUp({ session: { keys: [{ kid: 'k1', key: KEY }], maxRevokedSessions: 2 } });
  const writes = () => device.store.get('xsdot.rev');
  const before = writes();
  const anonymous = device.browser('192.0.2.50');
  await anonymous.get('/login');
  assert.equal((await anonymous.post('/logout', {})).status, 303);
  assert.equal(writes(), before, 'an anonymous session is not recorded');

  const browsers = [0, 1, 2, 3].map((i) => device.browser(`192.0.2.${60 + i}`));
  for (const browser of browsers) assert.equal((await signIn(browser)).status, 303);
  for (const browser of browsers.slice(0, 2)) {
    await browser.get('/');
    await browser.post('/logout', {});
  }
  assert.equal((await browsers[3].get('/api/me')).status, 200, 'two logouts fit the list');
  await browsers[2].get('/');
  await browsers[2].post('/logout', {});
  assert.equal((await browsers[3].get('/api/me')).status, 401, 'the third logout found the list full: every session of admin ended');
  assert.match(writes() ?? '', /\|[\w-]{12}=1\|/, 'the generation was raised');

  device.advance(8 * 3600 + 60); // every listed id has expired
  const late = device.browser('192.0.2.70');
  assert.equal((await signIn(late)).status, 303);
  await late.get('/');
  await late.post('/logout', {});
  assert.equal((writes() ?? '').split('@').length - 1, 1, 'expired ids were dropped, the new one listed');
});

test('password change fails closed: the password write fails (or the device dies) after the revocation → old password, no session', async () => {
  const device = await setUp();
  const phone = device.browser('192.0.2.20');
  const laptop = device.browser('192.0.2.21');
  await signIn(phone);
  await signIn(laptop);
  await phone.get('/settings/password');
  // Same store contents, but every password write now fails (the process "dies" there).
  const broken = boot({}, device.store, { store: failingStore(device.store, /^pw\./) });
  const phoneOnBroken = new TestClient(broken.app, { clientAddress: '192.0.2.20', allowedHosts: ['localhost'] });
  for (const [name, value] of phone.client.cookies) phoneOnBroken.cookies.set(name, value);
  const changed = await phoneOnBroken.post('/settings/password', { form: { csrf_token: phone.token, old_password: PASSWORD, password: 'new secret phrase', confirm: 'new secret phrase' }, headers: ORIGIN });
  assert.equal(changed.status, 500);
  assert.ok(broken.logs.some((line) => /store refused pw\.admin/.test(line)), 'the failure is logged');
  // Memory follows the store: the old password still works and the new one does not, before and after a reboot.
  for (const target of [broken, device.reboot()]) {
    assert.equal((await signIn(target.browser('192.0.2.80'), 'new secret phrase')).status, 401);
    assert.equal((await signIn(target.browser('192.0.2.81'), PASSWORD)).status, 303);
    const copy = new TestClient(target.app, { allowedHosts: ['localhost'] });
    for (const browser of [phone, laptop]) {
      assert.equal((await copy.get('/api/me', { headers: { Cookie: `session=${browser.client.cookies.get('session')}` } })).status, 401, 'every old session ended');
    }
  }
});

test('password change: a refused revocation write changes nothing (500; same password, same sessions)', async () => {
  const device = await setUp();
  const phone = device.browser('192.0.2.20');
  const laptop = device.browser('192.0.2.21');
  await signIn(phone);
  await signIn(laptop);
  await phone.get('/settings/password');
  const broken = boot({}, device.store, { store: failingStore(device.store, /^xsdot\.rev$/) });
  const phoneOnBroken = new TestClient(broken.app, { clientAddress: '192.0.2.20', allowedHosts: ['localhost'] });
  for (const [name, value] of phone.client.cookies) phoneOnBroken.cookies.set(name, value);
  const changed = await phoneOnBroken.post('/settings/password', { form: { csrf_token: phone.token, old_password: PASSWORD, password: 'new secret phrase', confirm: 'new secret phrase' }, headers: ORIGIN });
  assert.equal(changed.status, 500);
  assert.equal((await signIn(broken.browser('192.0.2.80'), 'new secret phrase')).status, 401);
  assert.equal((await laptop.get('/api/me')).status, 200, 'nothing was revoked either');
});

test('a missing or corrupt revocation record revokes every session minted before it was noticed', async () => {
  for (const damage of [(store: Map<string, string>) => store.delete('xsdot.rev'), (store: Map<string, string>) => store.set('xsdot.rev', 'v1|x||')]) {
    const device = await setUp();
    const phone = device.browser('192.0.2.20');
    await signIn(phone);
    const laptop = device.browser('192.0.2.21');
    await signIn(laptop);
    await laptop.get('/');
    await laptop.post('/logout', {}); // revoked by the list…
    const laptopCopy = device.store.get('xsdot.rev');
    assert.ok(laptopCopy?.includes('@'));
    damage(device.store);            // …which is then lost
    device.advance(1);
    const rebooted = device.reboot();
    assert.match(device.store.get('xsdot.rev') ?? '', new RegExp(`^v1\\|${Math.floor(device.clock.wall / 1000)}\\|\\|$`), 'recreated: not before now');
    const copy = new TestClient(rebooted.app, { allowedHosts: ['localhost'] });
    assert.equal((await copy.get('/api/me', { headers: { Cookie: `session=${phone.client.cookies.get('session')}` } })).status, 401);
    assert.equal((await signIn(rebooted.browser('192.0.2.30'))).status, 303, 'new logins work');
  }
});

test('throttle, issue 12: 17 addresses flooding wrong passwords neither lock out the admin (device cookie) nor guess faster', async () => {
  const flood = async (addresses: number, seconds: number) => {
    const device = await setUp();
    const admin = device.browser('192.0.2.10');
    assert.equal((await signIn(admin)).status, 303, 'an earlier login from this browser');
    assert.match(admin.client.cookies.get('xsdot_device') ?? '', /^[\w-]{12}\.[\w-]{22}$/, 'it got a device cookie');
    await admin.get('/');
    await admin.post('/logout', {});
    const attackers = Array.from({ length: addresses }, (_, i) => device.browser(`203.0.113.${i + 1}`));
    for (const attacker of attackers) await attacker.get('/login');
    let guesses = 0;
    for (let second = 0; second < seconds; second++, device.advance(1)) {
      for (const attacker of attackers) {
        const status = (await attacker.post('/login', { username: 'admin', password: 'not the password' })).status;
        assert.ok(status === 401 || status === 429, `attacker got ${status}`);
        if (status === 401) guesses++;
      }
    }
    return { device, admin, guesses };
  };
  const single = await flood(1, 30);
  const { device, admin, guesses } = await flood(17, 30);
  assert.ok(guesses <= single.guesses + 7, `17 addresses got ${guesses} password checks in 30 s, one address ${single.guesses}`);
  // The admin's browser proves its earlier login: its own budget, so the flood does not keep it out.
  assert.equal((await signIn(admin)).status, 303, 'the admin still gets in');
  // A browser without one waits with everyone else while the flood lasts (the documented price).
  assert.equal((await signIn(device.browser('192.0.2.11'))).status, 429);
  // A device cookie proves nothing for another user name, nor when forged.
  const forged = device.browser('192.0.2.12');
  forged.client.cookies.set('xsdot_device', 'AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA');
  assert.equal((await signIn(forged)).status, 429);
  // And a stolen one gets one browser's budget, not more: its own failures throttle it.
  const thief = device.browser('198.51.100.1');
  thief.client.cookies.set('xsdot_device', admin.client.cookies.get('xsdot_device') ?? '');
  await thief.get('/login');
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await thief.post('/login', { username: 'admin', password: `guess ${i}` })).status);
  assert.deepEqual(statuses, [401, 401, 401, 401, 429]);
});

test('live status: the dashboard alone may run its own script; the stream and socket need a session', async () => {
  const device = boot();
  const browser = device.browser();
  await browser.get('/setup');
  await browser.post('/setup', { code: device.code ?? '', password: PASSWORD, confirm: PASSWORD });
  // Signed out: 401 before any upgrade or stream, JSON like every /api answer.
  for (const path of ['/live/events', '/live/socket']) assert.equal((await browser.get(path)).status, 401, path);
  const script = await browser.get('/live/status.js');
  assert.equal(script.status, 200);
  assert.equal(script.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.match(script.text, /new EventSource\("\/live\/events"\)/);
  assert.equal((await browser.get('/live/nothing')).status, 404);
  await signIn(browser);
  const dashboard = await browser.get('/');
  assertSecurityHeaders(dashboard, 'dashboard');
  assert.match(dashboard.headers.get('content-security-policy') ?? '', /; script-src 'self'; connect-src 'self'$/);
  for (const path of ['/settings/password', '/login', '/live/status.js']) {
    assert.doesNotMatch((await browser.get(path)).headers.get('content-security-policy') ?? '', /script-src/, `${path} runs no script`);
  }
  // Signed in, but not a WebSocket handshake: 426 (the upgrade itself is tested over real sockets).
  assert.equal((await browser.get('/live/socket')).status, 426);
});

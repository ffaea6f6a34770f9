import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { installRuntime } from '../../modules/runtime';
import { logEvent, MAX_LOG_MESSAGE } from '../../app/forms';
import { USERS_STORE_KEY, validUsername } from '../../app/users';
import { assertSecurityHeaders, base, boot, ORIGIN, PASSWORD, setUp, signIn, type Browser, type Device } from '../support/login-device';

afterEach(() => installRuntime(base));

const VIEWER_PASSWORD = 'viewer pass phrase';

/** A device with an admin signed in on `admin` and on the settings page (its form token ready). */
async function withAdmin(options = {}, extra = {}): Promise<{ device: Device; admin: Browser }> {
  const device = boot(options, new Map(), extra);
  const setup = device.browser('192.0.2.99');
  await setup.get('/setup');
  assert.equal((await setup.post('/setup', { code: device.code ?? '', password: PASSWORD, confirm: PASSWORD })).status, 303);
  const admin = device.browser('192.0.2.1');
  assert.equal((await signIn(admin)).status, 303);
  assert.equal((await admin.get('/settings')).status, 200);
  return { device, admin };
}

async function addUser(admin: Browser, username: string, role = 'viewer', password = VIEWER_PASSWORD) {
  await admin.get('/settings');
  return admin.post('/settings', { action: 'add', username, role, password, confirm: password });
}

async function api(browser: Browser): Promise<number> {
  return (await browser.client.get('/api/me')).status;
}

// --- Users and roles --------------------------------------------------------------------------------------

test('an admin adds a viewer; the viewer signs in, sees the dashboard and its account, never the settings (403)', async () => {
  const { device, admin } = await withAdmin();
  const added = await addUser(admin, 'Bob');
  assert.equal(added.status, 303);
  assert.equal(added.headers.get('location'), '/settings?m=added');
  assert.match((await admin.get('/settings?m=added')).text, /User added\.[\s\S]*<a href="\/settings\?user=bob">bob<\/a> \(viewer\)/);
  assert.match(device.store.get(USERS_STORE_KEY) ?? '', /^v1\|admin=a:\d+\|bob=v:$/);
  assert.match(device.store.get('pw.bob') ?? '', /^pbkdf2-sha256\$2\$/);
  assert.ok(device.logs.includes('xsdot: admin added user "bob" (viewer)'));

  const viewer = device.browser('192.0.2.2');
  assert.equal((await signIn(viewer, VIEWER_PASSWORD, 'bob')).status, 303);
  const dashboard = await viewer.get('/');
  assert.equal(dashboard.status, 200);
  assert.match(dashboard.text, /<dt>Signed in as<\/dt><dd>bob<\/dd>/);
  assert.equal((await viewer.get('/api/me') as { json: { user: string } }).json.user, 'bob');
  const account = await viewer.get('/account');
  assert.match(account.text, /<dt>Role<\/dt><dd>viewer<\/dd>/);
  assert.ok(!account.text.includes('href="/settings"'), 'no settings link for a viewer');
  for (const path of ['/settings', '/settings?user=admin']) {
    const denied = await viewer.get(path);
    assert.equal(denied.status, 403, path);
    assert.match(denied.text, /Only an admin can open the settings\./);
    assertSecurityHeaders(denied, `viewer GET ${path}`);
  }
  // A valid form token of its own session does not make a viewer an admin.
  await viewer.get('/account');
  const attempts: Record<string, string>[] = [{ action: 'add', username: 'eve', role: 'admin', password: 'eve password', confirm: 'eve password' }, { action: 'remove', user: 'admin' }, { action: 'role', user: 'bob', role: 'admin' }];
  for (const form of attempts) {
    assert.equal((await viewer.post('/settings', form)).status, 403, form.action);
  }
  assert.match(device.store.get(USERS_STORE_KEY) ?? '', /^v1\|admin=a:\d+\|bob=v:\d+$/, 'nothing changed');
  // Viewers change their own password.
  await viewer.get('/settings/password');
  assert.equal((await viewer.post('/settings/password', { old_password: VIEWER_PASSWORD, password: 'bob new phrase', confirm: 'bob new phrase' })).status, 303);
  assert.equal((await signIn(device.browser('192.0.2.3'), 'bob new phrase', 'bob')).status, 303);
});

test('add user: bad, taken or too many names and password rule breaks keep the typed name and role (escaped), never the password', async () => {
  const { device, admin } = await withAdmin({ maxUsers: 3 });
  const markup = await addUser(admin, '<b>"x"</b>');
  assert.equal(markup.status, 400);
  assert.match(markup.text, /A user name is 1–12 characters: a–z, 0–9, dot, dash, underscore\./);
  assert.match(markup.text, /name="username" value="&lt;b&gt;&quot;x&quot;&lt;\/b&gt;"/);
  assert.ok(!markup.text.includes('<b>"x"'));
  const long = await addUser(admin, 'a'.repeat(13));
  assert.equal(long.status, 400);
  const mismatch = await admin.post('/settings', { action: 'add', username: 'carol', role: 'admin', password: 'carol password', confirm: 'carol passw0rd' });
  assert.equal(mismatch.status, 400);
  assert.match(mismatch.text, /do not match/);
  assert.match(mismatch.text, /name="username" value="carol"/);
  assert.match(mismatch.text, /<option value="admin" selected>/, 'the role is kept');
  assert.ok(!mismatch.text.includes('carol password') && !mismatch.text.includes('carol passw0rd'), 'passwords are never echoed');
  assert.equal((await admin.post('/settings', { action: 'add', username: 'carol', role: 'root', password: 'carol password', confirm: 'carol password' })).status, 400, 'unknown role');
  assert.equal((await admin.post('/settings', { action: 'add', username: 'carol', role: 'viewer', password: 'short', confirm: 'short' })).status, 400);
  assert.equal(device.store.has('pw.carol'), false, 'nothing written for a refused user');
  assert.equal((await addUser(admin, 'admin')).status, 409, 'taken');
  assert.equal((await addUser(admin, 'bob')).status, 303);
  assert.equal((await addUser(admin, 'carol')).status, 303);
  const full = await addUser(admin, 'dave');
  assert.equal(full.status, 409);
  assert.match(full.text, /at most 3 users/);
  assert.equal((await admin.post('/settings', { action: 'explode' })).status, 400);
  assert.equal(validUsername('ok.name-1_'), true);
  assert.equal(validUsername('Upper'), false);
  assert.equal(validUsername(''), false);
});

test('every settings change is CSRF-protected: no token, another session\'s token or another origin → 403', async () => {
  const { device, admin } = await withAdmin();
  const form = { action: 'add', username: 'mallory', role: 'admin', password: 'mallory pass', confirm: 'mallory pass' };
  assert.equal((await admin.client.post('/settings', { form, headers: ORIGIN })).status, 403, 'no token');
  assert.equal((await admin.post('/settings', form, { Origin: 'http://evil.example' })).status, 403, 'cross-origin');
  const other = device.browser('192.0.2.5');
  await other.get('/login');
  assert.equal((await admin.client.post('/settings', { form: { ...form, csrf_token: other.token }, headers: ORIGIN })).status, 403, 'another session\'s token');
  assert.equal((await admin.client.post('/logout', { form: { everywhere: '1' }, headers: ORIGIN })).status, 403, 'sign out everywhere too');
  assert.equal(device.store.has('pw.mallory'), false);
});

test('role changes, password resets and removals revoke that user\'s sessions; the last admin stays', async () => {
  const { device, admin } = await withAdmin();
  await addUser(admin, 'bob', 'admin');
  const bob = device.browser('192.0.2.2');
  assert.equal((await signIn(bob, VIEWER_PASSWORD, 'bob')).status, 303);
  const bobCookie = bob.client.cookies.get('session');

  // Role: bob becomes a viewer and is signed out everywhere.
  await admin.get('/settings?user=bob');
  const demoted = await admin.post('/settings', { action: 'role', user: 'bob', role: 'viewer' });
  assert.equal(demoted.status, 303);
  assert.equal(demoted.headers.get('location'), '/settings?user=bob&m=role');
  assert.equal(await api(bob), 401, 'bob\'s session ended');
  assert.match(device.store.get(USERS_STORE_KEY) ?? '', /\|bob=v:$/);
  assert.equal((await signIn(bob, VIEWER_PASSWORD, 'bob')).status, 303);
  assert.equal((await bob.get('/settings')).status, 403, 'a viewer now');

  // The last admin can be neither demoted nor removed, by itself or anyone.
  await admin.get('/settings?user=admin');
  const changes: Record<string, string>[] = [{ action: 'role', user: 'admin', role: 'viewer' }, { action: 'remove', user: 'admin' }];
  for (const form of changes) {
    const refused = await admin.post('/settings', form);
    assert.equal(refused.status, 409, form.action);
    assert.match(refused.text, /The last admin cannot be/);
  }
  assert.equal(await api(admin), 200, 'a refused change revokes nothing');

  // Password reset: every session of bob ends, the new password works, the old one does not.
  await admin.get('/settings?user=bob');
  assert.equal((await admin.post('/settings', { action: 'password', user: 'bob', password: 'short', confirm: 'short' })).status, 400);
  assert.equal(await api(bob), 200, 'a refused reset revokes nothing');
  const reset = await admin.post('/settings', { action: 'password', user: 'bob', password: 'bob reset phrase', confirm: 'bob reset phrase' });
  assert.equal(reset.status, 303);
  assert.equal(await api(bob), 401);
  assert.equal((await signIn(device.browser('192.0.2.30'), VIEWER_PASSWORD, 'bob')).status, 401);
  assert.equal((await signIn(bob, 'bob reset phrase', 'bob')).status, 303);

  // Removal: sessions end, the password record goes, the name no longer signs in.
  await admin.get('/settings?user=bob');
  const removed = await admin.post('/settings', { action: 'remove', user: 'bob' });
  assert.equal(removed.headers.get('location'), '/settings?m=removed');
  assert.equal(await api(bob), 401);
  assert.equal(device.store.has('pw.bob'), false);
  assert.equal((await signIn(device.browser('192.0.2.31'), 'bob reset phrase', 'bob')).status, 401);
  assert.equal((await admin.get('/settings?user=bob')).status, 404);
  await admin.get('/settings');
  assert.equal((await admin.post('/settings', { action: 'remove', user: 'bob' })).status, 404);

  // A new user of the same name does not inherit any old cookie.
  await addUser(admin, 'bob');
  const thief = device.browser('192.0.2.66');
  thief.client.cookies.set('session', bobCookie ?? '');
  assert.equal(await api(thief), 401);
  for (const line of device.logs) {
    for (const secret of [PASSWORD, VIEWER_PASSWORD, 'bob reset phrase', 'pbkdf2', bobCookie ?? '?']) assert.ok(!line.includes(secret), `no secret in the log: ${line}`);
  }
});

test('an admin may demote or remove itself while another admin exists: its own sessions end', async () => {
  const { device, admin } = await withAdmin();
  await addUser(admin, 'root2', 'admin');
  await admin.get('/settings?user=admin');
  const self = await admin.post('/settings', { action: 'role', user: 'admin', role: 'viewer' });
  assert.equal(self.headers.get('location'), '/login');
  assert.equal(await api(admin), 401);
  const other = device.browser('192.0.2.8');
  assert.equal((await signIn(other, VIEWER_PASSWORD, 'root2')).status, 303);
  await other.get('/settings?user=admin');
  assert.equal((await other.post('/settings', { action: 'remove', user: 'admin' })).status, 303);
  assert.match(device.store.get(USERS_STORE_KEY) ?? '', /^v1\|root2=a:\d+$/);
});

// --- The user table in the store ---------------------------------------------------------------------------

test('the table survives a reboot; each change is one atomic write, and memory follows only what the store accepted', async () => {
  const fail = { on: undefined as RegExp | undefined };
  const store = new Map<string, string>();
  const extra = {
    store: {
      get: (k: string) => store.get(k),
      set: (k: string, v: string) => {
        if (fail.on?.test(k)) throw new Error(`store refused ${k}`);
        store.set(k, v);
      },
      delete: (k: string) => void store.delete(k),
    },
  };
  const device = boot({}, store, extra);
  const setup = device.browser();
  await setup.get('/setup');
  await setup.post('/setup', { code: device.code ?? '', password: PASSWORD, confirm: PASSWORD });
  const admin = device.browser('192.0.2.1');
  await signIn(admin);
  await addUser(admin, 'bob');

  fail.on = /^xsdot\.users$/;
  await admin.get('/settings');
  assert.equal((await admin.post('/settings', { action: 'add', username: 'carol', role: 'viewer', password: VIEWER_PASSWORD, confirm: VIEWER_PASSWORD })).status, 500);
  assert.equal((await signIn(device.browser('192.0.2.40'), VIEWER_PASSWORD, 'carol')).status, 401, 'carol was not added: her password record alone signs nothing in');
  await admin.get('/settings?user=bob');
  assert.equal((await admin.post('/settings', { action: 'remove', user: 'bob' })).status, 500);
  fail.on = /^xsdot\.rev$/;
  const bob = device.browser('192.0.2.2');
  fail.on = undefined;
  assert.equal((await signIn(bob, VIEWER_PASSWORD, 'bob')).status, 303);
  fail.on = /^xsdot\.rev$/;
  await admin.get('/settings?user=bob');
  assert.equal((await admin.post('/settings', { action: 'role', user: 'bob', role: 'admin' })).status, 500, 'the revocation is refused');
  assert.match(store.get(USERS_STORE_KEY) ?? '', /\|bob=v:/, 'so the role is unchanged');
  assert.equal(await api(bob), 200);
  fail.on = undefined;

  const rebooted = device.reboot();
  assert.equal(rebooted.code, undefined);
  assert.match(store.get(USERS_STORE_KEY) ?? '', /^v1\|admin=a:[\d,]+\|bob=v:\d*$/);
  assert.equal((await signIn(rebooted.browser('192.0.2.50'), VIEWER_PASSWORD, 'bob')).status, 303);
  assert.equal((await signIn(rebooted.browser('192.0.2.51'), VIEWER_PASSWORD, 'carol')).status, 401);
});

test('a corrupt user table fails closed: no session or password works, the error is logged, setup runs again', async () => {
  const { device, admin } = await withAdmin();
  await addUser(admin, 'bob');
  const bob = device.browser('192.0.2.2');
  await signIn(bob, VIEWER_PASSWORD, 'bob');
  for (const corrupt of ['v2|admin=a:', 'v1|admin=x:', 'v1|Admin=a:', 'v1|admin=a:1,x', 'v1|admin=a:|admin=v:', 'garbage']) {
    device.store.set(USERS_STORE_KEY, corrupt);
    const broken = device.reboot();
    assert.ok(broken.logs.some((line) => line.includes('user table record is unreadable')), corrupt);
    assert.match(broken.code ?? '', /^[0-9A-Z]{4}-[0-9A-Z]{4}$/, `${corrupt}: a setup code again`);
    const thief = broken.browser('192.0.2.2');
    thief.client.cookies.set('session', bob.client.cookies.get('session') ?? '');
    assert.equal((await thief.client.get('/api/me')).status, 401, corrupt);
    assert.equal((await broken.browser('192.0.2.60').get('/login')).headers.get('location'), '/setup', `${corrupt}: no login`);
  }
  const broken = device.reboot();
  const oldAdmin = broken.browser('192.0.2.1');
  oldAdmin.client.cookies.set('session', admin.client.cookies.get('session') ?? '');
  const setup = broken.browser('192.0.2.70');
  await setup.get('/setup');
  assert.equal((await setup.post('/setup', { code: broken.code ?? '', password: 'fresh admin phrase', confirm: 'fresh admin phrase' })).status, 303);
  assert.match(device.store.get(USERS_STORE_KEY) ?? '', /^v1\|admin=a:$/);
  assert.equal(await api(oldAdmin), 401, 'the admin\'s sessions from before the corruption stay ended');
  assert.equal((await signIn(broken.browser('192.0.2.71'), VIEWER_PASSWORD, 'bob')).status, 401, 'bob is gone');
  assert.equal((await signIn(broken.browser('192.0.2.72'), 'fresh admin phrase')).status, 303);
});

test('a device set up before the user table keeps its admin (pw.admin only)', async () => {
  const device = await setUp();
  device.store.delete(USERS_STORE_KEY);
  const older = device.reboot();
  assert.equal(older.code, undefined, 'no setup');
  const admin = older.browser();
  assert.equal((await signIn(admin)).status, 303);
  assert.equal((await admin.get('/settings')).status, 200);
});

// --- Sessions: the count and sign out everywhere ---------------------------------------------------------------

test('the account page counts sessions; sign out everywhere ends them all; signed-out and expired ones stop counting', async () => {
  const device = await setUp();
  const [phone, laptop, tablet] = [1, 2, 3].map((i) => device.browser(`192.0.2.${10 + i}`));
  for (const browser of [phone, laptop, tablet]) await signIn(browser);
  const count = async (browser: Browser) => /<dt>Sessions<\/dt><dd>([^<]+)<\/dd>/.exec((await browser.get('/account')).text)?.[1];
  assert.equal(await count(phone), '3');
  await tablet.get('/');
  await tablet.post('/logout', {});
  assert.equal(await count(phone), '2', 'a sign-out stops counting');

  const account = await phone.get('/account');
  assert.match(account.text, /<button type="submit">Sign out everywhere<\/button>/);
  assert.match(account.text, /href="\/settings"/, 'admins get the settings link');
  const everywhere = await phone.post('/logout', { everywhere: '1' });
  assert.equal(everywhere.status, 303);
  assert.equal(everywhere.headers.get('location'), '/login?m=all');
  assert.equal(phone.client.cookies.has('session'), false);
  assert.equal(await api(laptop), 401, 'the other session ended');
  assert.equal(await api(phone), 401);
  assert.match((await phone.get('/login?m=all')).text, /Signed out everywhere/);
  assert.ok(device.logs.includes('xsdot: admin signed out everywhere'));

  await signIn(phone);
  assert.equal(await count(phone), '1');
  device.advance(8 * 3600 + 1);
  await signIn(laptop);
  assert.equal(await count(laptop), '1', 'the expired session no longer counts');
  for (let i = 0; i < 9; i++) await signIn(device.browser(`192.0.2.${100 + i}`));
  assert.equal(await count(laptop), 'at least 8', 'the count is bounded');
  assert.match(device.store.get(USERS_STORE_KEY) ?? '', /^v1\|admin=a:(\d+,){7}\d+$/);

  // A password change keeps only the session that made it.
  await laptop.get('/settings/password');
  await laptop.post('/settings/password', { old_password: PASSWORD, password: 'new secret phrase', confirm: 'new secret phrase' });
  assert.equal(await count(laptop), '1');
});

test('without a trusted clock, sessions of an earlier boot are not counted after a reboot (their tokens died with it)', async () => {
  const device = boot({}, new Map(), { wallClockTrusted: () => false });
  const setup = device.browser();
  await setup.get('/setup');
  await setup.post('/setup', { code: device.code ?? '', password: PASSWORD, confirm: PASSWORD });
  for (const i of [1, 2]) await signIn(device.browser(`192.0.2.${i}`));
  const rebooted = device.reboot();
  const browser = rebooted.browser('192.0.2.9');
  await signIn(browser);
  assert.match((await browser.get('/account')).text, /<dt>Sessions<\/dt><dd>1<\/dd>/);
});

// --- Logs ---------------------------------------------------------------------------------------------------

test('failed logins and throttling are logged: the name only when it exists, never a password; one line per wait', async () => {
  const { device } = await withAdmin();
  const attacker = device.browser('192.0.2.77');
  await attacker.get('/login');
  await attacker.post('/login', { username: 'admin', password: 'guess one' });
  await attacker.post('/login', { username: 'my secret pass', password: 'guess two' });
  await attacker.post('/login', { username: 'admin', password: 'guess three' });
  await attacker.post('/login', { username: 'admin', password: 'guess four' });
  for (let i = 0; i < 5; i++) assert.equal((await attacker.post('/login', { username: 'admin', password: 'guess more' })).status, 429);
  const lines = device.logs.filter((line) => line.includes('192.0.2.77'));
  assert.deepEqual(lines, [
    'xsdot: failed login for user "admin" from 192.0.2.77',
    'xsdot: failed login for an unknown user name from 192.0.2.77',
    'xsdot: failed login for user "admin" from 192.0.2.77',
    'xsdot: failed login for user "admin" from 192.0.2.77',
    'xsdot: guesses from 192.0.2.77 throttled: next one in 1 s',
  ]);
  for (const line of device.logs) assert.ok(!/guess|secret|correct horse/.test(line.replace('guesses from', '')), `no password in the log: ${line}`);

  const setup = boot();
  const stranger = setup.browser('192.0.2.78');
  await stranger.get('/setup');
  await stranger.post('/setup', { code: 'ZZZZ-ZZZZ', password: PASSWORD, confirm: PASSWORD });
  assert.ok(setup.logs.includes('xsdot: wrong setup code from 192.0.2.78'));
  assert.ok(!setup.logs.some((line) => line.includes('ZZZZ')));
});

test('log lines are bounded to MAX_LOG_MESSAGE characters', () => {
  const lines: string[] = [];
  installRuntime(Object.assign(Object.create(base), { log: (_level: string, message: string) => void lines.push(message) }));
  logEvent('warn', 'x'.repeat(5000));
  logEvent('info', 'short');
  assert.equal(lines[0].length, MAX_LOG_MESSAGE);
  assert.ok(lines[0].endsWith('…'));
  assert.equal(lines[1], 'short');
});

// --- Setup page and device name ---------------------------------------------------------------------------

test('setup shows the code\'s format and a labelled device name; a bad name comes back as typed (escaped), the code does not', async () => {
  const device = boot();
  const browser = device.browser();
  const page = await browser.get('/setup');
  assert.match(page.text, /placeholder="XXXX-XXXX"/);
  assert.match(page.text, /Format XXXX-XXXX: 8 letters and digits/);
  assert.match(page.text, /<label for="name">Device name<\/label><input id="name" name="name" value="Test device"/);
  const code = device.code ?? '';
  const long = await browser.post('/setup', { code, name: '<i>' + 'n'.repeat(40), password: PASSWORD, confirm: PASSWORD });
  assert.equal(long.status, 400);
  assert.match(long.text, /at most 32 characters/);
  assert.match(long.text, /value="&lt;i&gt;n{40}"/);
  assert.ok(!long.text.includes(code), 'the setup code is never echoed');
  assert.equal((await browser.post('/setup', { code, name: 'a\u0007b', password: PASSWORD, confirm: PASSWORD })).status, 400);
  const mismatch = await browser.post('/setup', { code, name: 'Greenhouse', password: PASSWORD, confirm: 'other' });
  assert.match(mismatch.text, /name="name" value="Greenhouse"/);
  assert.equal((await browser.post('/setup', { code, name: '  Greenhouse "A" ', password: PASSWORD, confirm: PASSWORD })).status, 303);
  assert.equal(device.store.get('xsdot.name'), 'Greenhouse "A"');
  const rebooted = device.reboot();
  const admin = rebooted.browser();
  await signIn(admin);
  assert.match((await admin.get('/')).text, /<dt>Device<\/dt><dd>Greenhouse &quot;A&quot;<\/dd>/);
  assert.equal((await admin.get('/api/me') as { json: { device: string } }).json.device, 'Greenhouse "A"');

  // Renamed in the settings; a bad name keeps what was typed.
  await admin.get('/settings');
  const empty = await admin.post('/settings', { action: 'name', name: '   ' });
  assert.equal(empty.status, 400);
  assert.match(empty.text, /cannot be empty/);
  assert.equal((await admin.post('/settings', { action: 'name', name: 'Shed' })).headers.get('location'), '/settings?m=name');
  assert.match((await admin.get('/settings?m=name')).text, /Device name saved\.[\s\S]*name="name" value="Shed"/);
  assert.equal(device.store.get('xsdot.name'), 'Shed');
});

test('the new pages are small, labelled and free of scripts', async () => {
  const { admin } = await withAdmin();
  for (let i = 0; i < 7; i++) await addUser(admin, `user${i}abcdef`);
  for (const path of ['/settings', '/settings?user=user0abcdef', '/account']) {
    const page = await admin.get(path);
    assert.equal(page.status, 200, path);
    assert.ok(page.body.length < 4096, `${path} is ${page.body.length} bytes`);
    assert.ok(!/<script|src=|https?:\/\/|style="/.test(page.text), path);
    for (const [, id] of page.text.matchAll(/<(?:input|select) id="([^"]+)"/g)) assert.ok(page.text.includes(`<label for="${id}">`), `${path}: #${id} has a label`);
  }
});

import '../support/install-host';
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { installRuntime, runtime, type Runtime } from '../../modules/runtime';
import { App, type Request } from '../../modules/http/index';
import { TestClient, type TestResponse } from '../../modules/http/testclient';
import { Session, withSession } from '../../modules/session/index';
import { base64urlEncode } from '../../modules/crypto/base64url';
import { DEFAULT_MAX_NEXT, Login, safeNext, type LoginOptions } from '../../modules/auth/index';

const KEY = new Uint8Array(32).fill(9);
const base = runtime();
let clock = { wall: 1_800_000_000_000, trusted: true };
afterEach(() => installRuntime(base));

/** The host runtime with a clock the test moves and a fresh in-memory store. */
function installClock(): void {
  clock = { wall: 1_800_000_000_000, trusted: true };
  const values = new Map<string, string>();
  const shim = Object.create(base) as Runtime;
  Object.assign(shim, {
    now: () => clock.wall,
    monotonic: () => clock.wall - 1_700_000_000_000,
    wallClockTrusted: () => clock.trusted,
    store: { get: (k: string) => values.get(k), set: (k: string, v: string) => void values.set(k, v), delete: (k: string) => void values.delete(k) },
  });
  installRuntime(shim);
}

const advance = (seconds: number) => void (clock.wall += seconds * 1000);

interface User { id: string; name: string }

function loginApp(options: LoginOptions = {}) {
  installClock();
  const app = new App();
  const sessions = new Session(app, { keys: [{ kid: 'k1', key: KEY }] });
  const login = new Login<User>(sessions, options);
  const users = new Map<string, User>([['ada', { id: 'ada', name: 'Ada' }], ['bob', { id: 'bob', name: 'Bob' }]]);
  login.userLoader((id) => users.get(id));
  app.get('/secret', login.required((_request, user) => `secret of ${user.name}`));
  app.get('/settings', login.fresh((_request, user) => `settings of ${user.name}`));
  app.post('/login', (request: Request) => {
    const user = request.form?.get('user') ?? '';
    return login.loginUser(request, user, { remember: request.form?.get('remember') === 'on' });
  });
  app.post('/logout', (request: Request) => {
    login.logoutUser(request);
    return 'bye';
  });
  app.get('/async', login.required(async (_request, user) => `async ${user.name}`));
  return { app, sessions, login, users };
}

const signIn = (client: TestClient, user = 'ada', query = '', remember = false): Promise<TestResponse> =>
  client.post(`/login${query}`, { form: remember ? { user, remember: 'on' } : { user } });

test('Login: an anonymous request to a protected route goes to the login page with next; after login, next is followed', async () => {
  const { app } = loginApp();
  const client = new TestClient(app);
  const anonymous = await client.get('/secret?tab=a%20b&x=1');
  assert.equal(anonymous.status, 303);
  assert.equal(anonymous.headers.get('location'), '/login?next=%2Fsecret%3Ftab%3Da%2520b%26x%3D1');
  const signedIn = await signIn(client, 'ada', '?next=%2Fsecret%3Ftab%3Da%2520b%26x%3D1');
  assert.equal(signedIn.status, 303);
  assert.equal(signedIn.headers.get('location'), '/secret?tab=a%20b&x=1');
  assert.equal((await client.get('/secret')).text, 'secret of Ada');
  assert.equal((await client.get('/async')).text, 'async Ada');
  assert.equal((await signIn(new TestClient(app))).headers.get('location'), '/', 'no next: redirectUrl');
  const form = await new TestClient(app).post('/login', { form: { user: 'ada', next: '/settings' } });
  assert.equal(form.headers.get('location'), '/settings', 'next as a form field');
});

test('Login: next is followed only when it is a path of this origin (open-redirect tricks go to "/")', async () => {
  const { app } = loginApp();
  const evil = [
    '//evil.example', '///evil.example', '/\\evil.example', '\\/evil.example', '\\\\evil.example', 'https://evil.example',
    'HTTPS://evil.example', 'http:/evil.example', 'http:evil.example', 'javascript:alert(1)', 'data:text/html,x',
    '/\t/evil.example', '/\n/evil.example', '/\r/evil.example', ' /evil', '/ /x', '/\x00', '/\x7f', 'evil.example', '',
    '/a/..//evil.example', '/.//evil.example', '/x?u=//evil.example', '/é', '/\u2028', '/\uff0f\uff0fevil.example',
    `/${'a'.repeat(DEFAULT_MAX_NEXT)}`,
  ];
  for (const next of evil) {
    assert.equal(safeNext(next), false, JSON.stringify(next));
    const response = await signIn(new TestClient(app), 'ada', `?next=${encodeURIComponent(next)}`);
    assert.equal(response.headers.get('location'), '/', JSON.stringify(next));
  }
  const twice = await signIn(new TestClient(app), 'ada', '?next=/secret&next=/settings');
  assert.equal(twice.headers.get('location'), '/', 'a repeated next is ignored');
  for (const next of ['/', '/secret', '/a/b?c=d&e=%2F%2Fx', '/%2F%2Fevil.example', `/${'a'.repeat(DEFAULT_MAX_NEXT - 1)}`]) {
    assert.equal(safeNext(next), true, next);
    assert.equal((await signIn(new TestClient(app), 'ada', `?next=${encodeURIComponent(next)}`)).headers.get('location'), next);
  }
  const long = await new TestClient(app).get(`/secret?${'q'.repeat(DEFAULT_MAX_NEXT)}`);
  assert.equal(long.headers.get('location'), '/login', 'a next over the limit is left out');
});

test('Login: a user the loader does not know is logged out; loginUser bounds user ids', async () => {
  const { app, users } = loginApp();
  const client = new TestClient(app);
  await signIn(client);
  users.delete('ada');
  assert.equal((await client.get('/secret')).status, 303);
  assert.equal((await signIn(new TestClient(app), 'a'.repeat(65))).status, 500, 'a 65-character id throws');
  assert.equal((await signIn(new TestClient(app), '')).status, 500);
});

test('Login: fresh needs a password login in this session within freshAge', async () => {
  const { app } = loginApp({ freshAge: 300 });
  const client = new TestClient(app);
  assert.equal((await client.get('/settings')).headers.get('location'), '/login?next=%2Fsettings');
  await signIn(client);
  assert.equal((await client.get('/settings')).text, 'settings of Ada');
  advance(301);
  const stale = await client.get('/settings');
  assert.equal(stale.status, 303, 'too old: sign in again');
  assert.equal(stale.headers.get('location'), '/login?next=%2Fsettings');
  assert.equal((await client.get('/secret')).text, 'secret of Ada', 'the login itself lasts');
  await signIn(client);
  assert.equal((await client.get('/settings')).text, 'settings of Ada');
});

test('Login: remember-me is a separate HttpOnly, SameSite=Lax cookie that restores a login (not fresh) once the session is gone', async () => {
  const { app } = loginApp();
  const client = new TestClient(app);
  const response = await signIn(client, 'ada', '', true);
  const setCookie = response.headers.getAll('set-cookie').find((c) => c.startsWith('remember='));
  assert.ok(setCookie);
  assert.match(setCookie, /; Max-Age=2592000; Path=\/; HttpOnly; SameSite=Lax$/);
  assert.ok(setCookie.length < 300, `${setCookie.length} bytes`);
  const remembered = new TestClient(app);
  remembered.cookies.set('remember', client.cookies.get('remember') as string);
  advance(2 * 86_400); // the session has long expired
  const restored = await remembered.get('/secret');
  assert.equal(restored.text, 'secret of Ada');
  assert.ok(remembered.cookies.has('session'), 'a session is made');
  assert.equal((await remembered.get('/settings')).status, 303, 'a restored login is not fresh');
  remembered.cookies.delete('remember');
  assert.equal((await remembered.get('/secret')).text, 'secret of Ada', 'the restored session stands on its own');
  const later = new TestClient(app);
  later.cookies.set('remember', client.cookies.get('remember') as string);
  advance(29 * 86_400);
  assert.equal((await later.get('/secret')).status, 303, 'not extended: gone after 30 days');
});

test('Login: revoking every session of the user (revokeAll) kills remember-me tokens; logout revokes its own', async () => {
  const { app, sessions } = loginApp();
  const ada = new TestClient(app);
  await signIn(ada, 'ada', '', true);
  const copy = ada.cookies.get('remember') as string;
  sessions.revokeAll('ada');
  const thief = new TestClient(app);
  thief.cookies.set('remember', copy);
  assert.equal((await thief.get('/secret')).status, 303, 'revokeAll ends remember-me');

  const again = new TestClient(app);
  await signIn(again, 'ada', '', true);
  const second = again.cookies.get('remember') as string;
  const other = new TestClient(app);
  await signIn(other, 'ada', '', true);
  const logout = await again.post('/logout');
  assert.equal(logout.text, 'bye');
  assert.ok(logout.headers.getAll('set-cookie').some((c) => /^remember=; Max-Age=0/.test(c)), 'the cookie is deleted');
  const replay = new TestClient(app);
  replay.cookies.set('remember', second);
  assert.equal((await replay.get('/secret')).status, 303, 'a copy of the logged-out remember cookie is refused');
  other.cookies.delete('session');
  assert.equal((await other.get('/secret')).text, 'secret of Ada', "another browser's remember-me is not affected");
});

test('Login: forged, swapped, repeated, oversized remember cookies restore nothing; no remember-me without a set clock', async () => {
  const { app } = loginApp();
  const client = new TestClient(app);
  await signIn(client, 'ada', '', true);
  const remember = client.cookies.get('remember') as string;
  const session = client.cookies.get('session') as string;
  const at = remember.lastIndexOf('.') + 1;
  const tampered = `${remember.slice(0, at)}${remember[at] === 'A' ? 'B' : 'A'}${remember.slice(at + 1)}`;
  const [header, , signature] = remember.split('.');
  const claims = (user: string) => JSON.stringify({ rm: user, rid: 'x', iat: 1_800_000_000, exp: 1_900_000_000 });
  const swappedPayload = `${header}.${base64urlEncode(runtime().utf8Encode(claims('bob')))}.${signature}`;
  for (const cookie of [`remember=${tampered}`, `remember=${session}`, `remember=${swappedPayload}`, `remember=${remember}; remember=${remember}`,
    `remember=${remember}${'A'.repeat(1024)}`, `session=${remember}`]) {
    const response = await new TestClient(app).get('/secret', { headers: { Cookie: cookie } });
    assert.equal(response.status, 303, cookie.slice(0, 40));
  }
  clock.trusted = false;
  const untrusted = new TestClient(app);
  const response = await signIn(untrusted, 'ada', '', true);
  assert.ok(!response.headers.getAll('set-cookie').some((c) => c.startsWith('remember=')), 'no remember cookie on an unset clock');
  assert.equal((await new TestClient(app).get('/secret', { headers: { Cookie: `remember=${remember}` } })).status, 303);
});

test('Login: signing in without remember-me drops an earlier remember cookie (a shared browser)', async () => {
  const { app } = loginApp();
  const client = new TestClient(app);
  await signIn(client, 'ada', '', true);
  const bob = await signIn(client, 'bob');
  assert.ok(bob.headers.getAll('set-cookie').some((c) => /^remember=; Max-Age=0/.test(c)));
  assert.equal(client.cookies.has('remember'), false);
  assert.equal((await client.get('/secret')).text, 'secret of Bob');
});

test('Login: options are checked at construction; a route served before userLoader() fails (500), not open', async () => {
  installClock();
  const sessions = new Session(undefined, { keys: [{ key: KEY }] });
  assert.throws(() => new Login(sessions, { loginUrl: 'https://evil.example/login' }), /loginUrl/);
  assert.throws(() => new Login(sessions, { redirectUrl: '//evil.example' }), /redirectUrl/);
  assert.throws(() => new Login(sessions, { freshAge: 0 }), /freshAge/);
  assert.throws(() => new Login(sessions, { rememberMaxAge: -1 }), /rememberMaxAge/);
  const secure = new Login(sessions, { secure: true });
  assert.equal(secure.rememberCookieName, '__Host-remember');
  const app = new App();
  new Session(app, { keys: [{ key: KEY }] });
  app.get('/x', new Login(sessions).required(() => 'open'));
  assert.equal((await new TestClient(app).get('/x')).status, 500);
});

test('Login: a login page built with withSession sees the user signed in by loginUser', async () => {
  const { app, login } = loginApp();
  app.get('/whoami', withSession((_request, session) => String(session.get('user'))));
  app.get('/fresh', (request: Request) => String(login.isFresh(request)));
  const client = new TestClient(app);
  await signIn(client);
  assert.equal((await client.get('/whoami')).text, 'ada');
  assert.equal((await client.get('/fresh')).text, 'true');
});

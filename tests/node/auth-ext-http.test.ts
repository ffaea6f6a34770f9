/**
 * microdot's extensions (Login, BasicAuth, TokenAuth, CORS) through real HTTP on the Node host: fetch
 * as a browser or script uses them, and raw bytes for what fetch would not send (obs-text credentials,
 * repeated headers, hostile next values as sent).
 */
import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { App, CORS, type Request } from '../../modules/http/index';
import { Session } from '../../modules/session/index';
import { BasicAuth, credentialsMatch, Login, Throttle, TokenAuth } from '../../modules/auth/index';
import { exchange, startServer, type TestServer } from './helpers';

const KEY = new Uint8Array(32).fill(3);
const TOKEN = 'c2NyaXB0LXRva2VuLWZvci10ZXN0cw';
const SITE = 'https://dashboard.example';

function extensionsApp(): { app: App; sessions: Session } {
  const app = new App();
  const sessions = new Session(app, { keys: [{ key: KEY }] });
  const login = new Login<string>(sessions);
  login.userLoader((id) => (id === 'ada' ? 'Ada' : undefined));
  app.get('/secret', login.required((_request, user) => `secret of ${user}`));
  app.post('/login', (request: Request) => {
    if (request.form?.get('password') !== 'right password') return 'wrong';
    return login.loginUser(request, 'ada', { remember: request.form?.get('remember') === 'on' });
  });
  app.post('/logout', (request: Request) => {
    login.logoutUser(request);
    return 'bye';
  });
  // One throttle for both schemes: guessing through either buys no extra tries.
  const throttle = new Throttle();
  const basic = new BasicAuth<string>({ realm: 'device', throttle });
  basic.authenticate((_request, username, password) => (username === 'ada' && credentialsMatch(password, 'right password') ? username : undefined));
  const token = new TokenAuth<string>({ throttle });
  token.authenticate((_request, given) => (credentialsMatch(given, TOKEN) ? 'script' : undefined));
  app.get('/api/basic', basic.required((_request, user) => ({ user })));
  app.route('/api/token', ['GET', 'PUT'], token.required((_request, user) => ({ user })));
  new CORS(app, { allowedOrigins: [SITE], allowedMethods: ['GET', 'PUT'], allowedHeaders: ['Authorization'], maxAge: 60 });
  return { app, sessions };
}

async function serving(body: (server: TestServer, url: string) => Promise<void>): Promise<void> {
  const server = await startServer(extensionsApp().app);
  try {
    await body(server, `http://127.0.0.1:${server.port}`);
  } finally {
    server.close();
  }
}

const cookies = (response: globalThis.Response) => response.headers.getSetCookie().map((c) => c.split(';')[0]);

test('Login over HTTP: 303 to /login with next, sign in with remember-me, next followed, open redirects refused', () => serving(async (_server, url) => {
  const anonymous = await fetch(`${url}/secret?a=1`, { redirect: 'manual' });
  assert.equal(anonymous.status, 303);
  assert.equal(anonymous.headers.get('location'), '/login?next=%2Fsecret%3Fa%3D1');
  const form = new URLSearchParams({ password: 'right password', remember: 'on' });
  const signedIn = await fetch(`${url}/login?next=%2Fsecret%3Fa%3D1`, { method: 'POST', body: form, redirect: 'manual' });
  assert.equal(signedIn.status, 303);
  assert.equal(signedIn.headers.get('location'), '/secret?a=1');
  const jar = cookies(signedIn);
  assert.deepEqual(jar.map((c) => c.split('=')[0]).sort(), ['remember', 'session']);
  assert.equal(await (await fetch(`${url}/secret`, { headers: { Cookie: jar.join('; ') } })).text(), 'secret of Ada');
  for (const next of ['//evil.example', '/\\evil.example', 'https://evil.example', '/\t/evil.example', '%2F%2Fevil.example']) {
    const response = await fetch(`${url}/login?next=${encodeURIComponent(next)}`, { method: 'POST', body: new URLSearchParams({ password: 'right password' }), redirect: 'manual' });
    assert.equal(response.headers.get('location'), '/', next);
  }
}));

test('Login over HTTP: remember-me restores a login; after logout a copy of it is refused', () => serving(async (_server, url) => {
  const signedIn = await fetch(`${url}/login`, { method: 'POST', body: new URLSearchParams({ password: 'right password', remember: 'on' }), redirect: 'manual' });
  const [session, remember] = ['session', 'remember'].map((name) => cookies(signedIn).find((c) => c.startsWith(`${name}=`)) as string);
  const restored = await fetch(`${url}/secret`, { headers: { Cookie: remember } });
  assert.equal(await restored.text(), 'secret of Ada');
  assert.ok(cookies(restored).some((c) => c.startsWith('session=')), 'a new session cookie');
  const logout = await fetch(`${url}/logout`, { method: 'POST', headers: { Cookie: `${session}; ${remember}` } });
  assert.equal(await logout.text(), 'bye');
  assert.equal((await fetch(`${url}/secret`, { headers: { Cookie: remember }, redirect: 'manual' })).status, 303);
  assert.equal((await fetch(`${url}/secret`, { headers: { Cookie: session }, redirect: 'manual' })).status, 303);
}));

test('BasicAuth and TokenAuth over HTTP: 401 challenges, obs-text and repeated headers 401 (never 500), a shared throttle → 429', () => serving(async (server, url) => {
  const challenge = await fetch(`${url}/api/basic`);
  assert.equal(challenge.status, 401);
  assert.equal(challenge.headers.get('www-authenticate'), 'Basic realm="device", charset="UTF-8"');
  const basic = `Basic ${Buffer.from('ada:right password').toString('base64')}`;
  assert.deepEqual(await (await fetch(`${url}/api/basic`, { headers: { Authorization: basic } })).json(), { user: 'ada' });
  assert.deepEqual(await (await fetch(`${url}/api/token`, { headers: { Authorization: `Bearer ${TOKEN}` } })).json(), { user: 'script' });
  const raw = [
    'Authorization: Basic \xff\xfe\xfd\xfc',
    `Authorization: Basic ${Buffer.from([0x61, 0x3a, 0xc3, 0x28]).toString('base64')}`,
    `Authorization: ${basic}\r\nAuthorization: ${basic}`,
    `Authorization: Basic ${'QUFB'.repeat(200)}`,
  ];
  for (const header of raw) {
    const { response } = await exchange(server, Buffer.from(`GET /api/basic HTTP/1.1\r\nHost: t\r\n${header}\r\nConnection: close\r\n\r\n`, 'latin1'));
    assert.equal(response.status, 401, JSON.stringify(header.slice(0, 40)));
  }
  // Those 4 failures and more wrong guesses, through both schemes, from one address: 3 free, then a wait.
  assert.equal((await fetch(`${url}/api/token`, { headers: { Authorization: 'Bearer wrong' } })).status, 429);
  const throttled = await fetch(`${url}/api/basic`, { headers: { Authorization: basic } });
  assert.equal(throttled.status, 429);
  assert.equal(throttled.headers.get('retry-after'), '1');
}));

test('CORS over HTTP: a preflight is 204 with exactly the allowed values; a foreign origin gets none', () => serving(async (_server, url) => {
  const preflight = await fetch(`${url}/api/token`, { method: 'OPTIONS', headers: { Origin: SITE, 'Access-Control-Request-Method': 'PUT', 'Access-Control-Request-Headers': 'authorization' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), SITE);
  assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, PUT');
  assert.equal(preflight.headers.get('access-control-allow-headers'), 'Authorization');
  assert.equal(preflight.headers.get('access-control-max-age'), '60');
  assert.equal(preflight.headers.get('access-control-allow-credentials'), null);
  const put = await fetch(`${url}/api/token`, { method: 'PUT', headers: { Origin: SITE, Authorization: `Bearer ${TOKEN}` } });
  assert.equal(put.headers.get('access-control-allow-origin'), SITE);
  assert.equal(put.headers.get('vary'), 'Origin');
  const foreign = await fetch(`${url}/api/token`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'PUT' } });
  assert.equal(foreign.status, 405);
  assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  const denied = await fetch(`${url}/api/basic`, { headers: { Origin: SITE } });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get('access-control-allow-origin'), SITE, 'a page may read why it was refused');
}));

/**
 * Sessions through real HTTP on the Node host: the routes of the microdot peer app
 * (shared/peers/microdot_app.py), a browser-like cookie flow with fetch, and cookies crossing
 * between microdot (PyJWT) and xsdot with the same key.
 */
import '../support/install-host';
import { tamperSignature } from '../support/tamper';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { App, abort, Response } from '../../modules/http/index';
import { Session, withSession, type SessionOptions } from '../../modules/session/session';
import { startServer, type TestServer } from './helpers';
import { PYJWT_SKIP, python } from './pyjwt';

const SECRET = 'microdot-and-xsdot-share-this-32-byte+-key';
const KEYS = [{ key: new TextEncoder().encode(SECRET) }];

/** The microdot peer app's routes, ported by renaming. */
function peerApp(options: SessionOptions): App {
  const app = new App();
  new Session(app, options);
  app.get('/', () => 'Hello, World!');
  app.post('/login', withSession((req, session) => {
    const json = req.json as { user?: string } | undefined;
    session.set('user', json?.user ?? req.form?.get('user') ?? 'admin');
    session.save();
    return `logged in as ${String(session.get('user'))}`;
  }));
  app.get('/me', withSession((_req, session) => session.get('user') ?? abort(401, 'not logged in')));
  app.post('/logout', withSession((_req, session) => {
    session.delete();
    return 'logged out';
  }));
  return app;
}

async function withServer(options: SessionOptions, body: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startServer(peerApp(options));
  try {
    await body(server);
  } finally {
    server.close();
  }
}

function cookieOf(response: globalThis.Response): string {
  const header = response.headers.get('set-cookie') ?? '';
  return header.split(';')[0];
}

test('login, session read and logout over real HTTP with fetch', async () => {
  await withServer({ keys: KEYS }, async ({ url }) => {
    assert.equal((await fetch(`${url}/me`)).status, 401);
    const login = await fetch(`${url}/login`, { method: 'POST', body: JSON.stringify({ user: 'susan' }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(await login.text(), 'logged in as susan');
    assert.match(login.headers.get('set-cookie') ?? '', /^session=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/);
    const cookie = cookieOf(login);
    const me = await fetch(`${url}/me`, { headers: { Cookie: cookie } });
    assert.equal(await me.text(), 'susan');
    assert.equal(me.headers.get('set-cookie'), null, 'reading a session sends no cookie');
    // Built from a session: for this browser only (Flask's CVE-2023-30861 class).
    for (const response of [login, me]) {
      assert.equal(response.headers.get('vary'), 'Cookie');
      assert.equal(response.headers.get('cache-control'), 'private');
    }
    assert.equal((await fetch(`${url}/`)).headers.get('vary'), null);
    const logout = await fetch(`${url}/logout`, { method: 'POST', headers: { Cookie: cookie } });
    assert.match(logout.headers.get('set-cookie') ?? '', /^session=; Max-Age=0/);
  });
});

test('a tampered or oversized cookie over HTTP is no session (or 431), never a 500', async () => {
  await withServer({ keys: KEYS }, async ({ url, logs }) => {
    const login = await fetch(`${url}/login`, { method: 'POST' });
    const cookie = cookieOf(login);
    const flipped = tamperSignature(cookie);
    assert.notEqual(flipped, cookie);
    assert.equal((await fetch(`${url}/me`, { headers: { Cookie: flipped } })).status, 401);
    assert.equal((await fetch(`${url}/me`, { headers: { Cookie: `${cookie}; ${cookie}` } })).status, 401);
    assert.equal((await fetch(`${url}/me`, { headers: { Cookie: `session=${'A'.repeat(10_240)}` } })).status, 431);
    assert.equal((await fetch(`${url}/me`, { headers: { Cookie: `session=${'A'.repeat(1500)}` } })).status, 401);
    assert.deepEqual(logs.filter((l) => l.level === 'error'), []);
  });
});

test('a cookie minted by microdot (PyJWT, no expiry) is accepted with acceptBareTokens and upgraded', { skip: PYJWT_SKIP }, async () => {
  const [microdotCookie] = python(
    'import json, sys, jwt; r = json.load(sys.stdin); print(json.dumps([jwt.encode(r["session"], r["key"], algorithm="HS256")]))',
    { key: SECRET, session: { user: 'admin' } },
  ) as string[];
  await withServer({ keys: KEYS }, async ({ url }) => {
    assert.equal((await fetch(`${url}/me`, { headers: { Cookie: `session=${microdotCookie}` } })).status, 401, 'strict by default');
  });
  await withServer({ keys: KEYS, acceptBareTokens: true }, async ({ url }) => {
    const me = await fetch(`${url}/me`, { headers: { Cookie: `session=${microdotCookie}` } });
    assert.equal(await me.text(), 'admin');
    assert.match(cookieOf(me), /^session=/, 're-issued with expiry and session id');
  });
});

test('a cookie minted by xsdot decodes in microdot (PyJWT with the same key) to the session dict', { skip: PYJWT_SKIP }, async () => {
  await withServer({ keys: KEYS }, async ({ url }) => {
    const token = cookieOf(await fetch(`${url}/login`, { method: 'POST', body: 'user=admin', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })).slice('session='.length);
    // microdot's Session.decode: jwt.decode(cookie, secret_key, algorithms=['HS256']), {} on any error.
    const [session, forged] = python(
      `import json, sys, jwt
r = json.load(sys.stdin)
def decode(t):
    try: return jwt.decode(t, r["key"], algorithms=["HS256"])
    except jwt.exceptions.PyJWTError: return {}
print(json.dumps([decode(r["token"]), decode(r["token"][:-2] + "AA")]))`,
      { key: SECRET, token },
    ) as Record<string, unknown>[];
    assert.equal(session.user, 'admin');
    assert.equal(typeof session.exp, 'number');
    assert.deepEqual(forged, {});
  });
});

test('Response cookies and sessions coexist on one response', async () => {
  const app = peerApp({ keys: KEYS });
  app.post('/both', withSession((_req, session) => {
    session.set('user', 'admin');
    return new Response('ok').setCookie('theme', 'dark', { path: '/' });
  }));
  const server = await startServer(app);
  try {
    const response = await fetch(`${server.url}/both`, { method: 'POST' });
    const cookies = response.headers.getSetCookie();
    assert.equal(cookies.length, 2);
    assert.ok(cookies.some((c) => c.startsWith('theme=dark')));
    assert.ok(cookies.some((c) => c.startsWith('session=')));
  } finally {
    server.close();
  }
});

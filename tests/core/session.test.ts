import '../support/install-host';
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { App, abort, Response, type Request } from '../../modules/http/index';
import { TestClient, type TestResponse } from '../../modules/http/testclient';
import { installRuntime, runtime, type Runtime } from '../../modules/runtime';
import { base64urlDecode, base64urlDigits, base64urlEncode } from '../../modules/crypto/base64url';
import { KeyRing, signToken } from '../../modules/session/jwt';
import { hmacSha256 } from '../../modules/crypto/hmac';
import { KEYS_STORE_KEY, loadStoredKeys, parseSecret, rotateStoredKeys } from '../../modules/session/keys';
import { Session, withSession, type SessionData, type SessionOptions } from '../../modules/session/session';

const KEY = new Uint8Array(32).fill(7);
const base = runtime();
let clock = { wall: 1_800_000_000_000, boot: 5_000, trusted: true };

/** The installed host runtime with a clock the test moves, and a fresh in-memory store. */
function installClock(): void {
  clock = { wall: 1_800_000_000_000, boot: 5_000, trusted: true };
  const values = new Map<string, string>();
  const shim: Runtime = Object.create(base) as Runtime;
  Object.assign(shim, {
    now: () => clock.wall,
    monotonic: () => clock.boot,
    wallClockTrusted: () => clock.trusted,
    store: { get: (k: string) => values.get(k), set: (k: string, v: string) => void values.set(k, v), delete: (k: string) => void values.delete(k) },
  });
  installRuntime(shim);
}

function advance(seconds: number): void {
  clock.wall += seconds * 1000;
  clock.boot += seconds * 1000;
}

afterEach(() => installRuntime(base));

function loginApp(options: SessionOptions = {}): { app: App; sessions: Session; seen: (string | undefined)[] } {
  installClock();
  const app = new App();
  const sessions = new Session(app, { keys: [{ kid: 'k1', key: KEY }], ...options });
  const seen: (string | undefined)[] = [];
  app.post('/login', withSession((req, session) => {
    session.regenerate();
    session.set('user', req.form?.get('user') ?? 'admin');
    session.save();
    return 'logged in';
  }));
  app.get('/me', withSession((_req, session) => {
    seen.push(session.rejected);
    const user = session.get('user');
    return user === undefined ? abort(401, 'not logged in') : { user, sid: session.sid };
  }));
  app.get('/peek', withSession((_req, session) => String(session.has('user'))));
  app.post('/logout', withSession((_req, session) => {
    session.delete();
    return 'logged out';
  }));
  return { app, sessions, seen };
}

function sessionCookie(response: TestResponse, name = 'session'): string | undefined {
  return response.headers.getAll('set-cookie').find((c) => c.startsWith(`${name}=`));
}

test('login sets a signed HttpOnly cookie; /me reads it; logout expires it', async () => {
  const { app } = loginApp();
  const client = new TestClient(app);
  assert.equal((await client.get('/me')).status, 401);
  const login = await client.post('/login', { form: { user: 'alice' } });
  const cookie = sessionCookie(login);
  assert.match(cookie ?? '', /^session=[\w-]+\.[\w-]+\.[\w-]+; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/);
  const me = await client.get('/me');
  assert.equal(me.status, 200);
  assert.equal((me.json as { user: string }).user, 'alice');
  const logout = await client.post('/logout');
  assert.match(sessionCookie(logout) ?? '', /^session=; Max-Age=0;/);
  assert.equal((await client.get('/me')).status, 401);
});

test('the cookie for {user: "admin"} stays small: compact header, expiry, idle time, sid and a two-character kid in 160 bytes', async () => {
  const { app } = loginApp({ keys: [{ kid: 'k1', key: KEY }] });
  const login = await new TestClient(app).post('/login');
  const cookie = (sessionCookie(login) ?? '').split(';')[0];
  assert.ok(cookie.length <= 160, `session cookie is ${cookie.length} bytes`);
  const [header, payload] = cookie.slice('session='.length).split('.').map((part) => runtime().utf8Decode(base64urlDecode(part) ?? new Uint8Array(0)));
  assert.equal(header, '{"alg":"HS256","kid":"k1"}');
  const claims = JSON.parse(payload) as { sid: string; exp: number };
  assert.deepEqual(Object.keys(claims), ['user', 'sid', 'exp']);
  // exp is the end of the idle window (an hour); the sid's last 4 characters count the rest of the day.
  assert.equal(claims.exp, Math.floor(clock.wall / 1000) + 3600);
  assert.match(claims.sid, /^[\w-]{12}$/);
  assert.equal(claims.sid.slice(8), base64urlDigits(86_400 - 3600, 4));
});

test('no Set-Cookie when a session is only read (dirty tracking)', async () => {
  const { app } = loginApp();
  const client = new TestClient(app);
  await client.post('/login');
  const peek = await client.get('/peek');
  assert.equal(peek.text, 'true');
  assert.equal(sessionCookie(peek), undefined);
  const anonymous = await new TestClient(app).get('/peek');
  assert.equal(anonymous.headers.getAll('set-cookie').length, 0);
});

test('tokenCacheSize: a signed-in browser\'s repeated cookie costs one HMAC (0: one per request); a bad value is refused before any key is made', async () => {
  for (const [tokenCacheSize, expected] of [[undefined, 1], [0, 3]] as const) {
    const { app } = loginApp(tokenCacheSize === undefined ? {} : { tokenCacheSize });
    const client = new TestClient(app);
    await client.post('/login', { form: { user: 'alice' } });
    const crypto = runtime().crypto;
    let macs = 0;
    installRuntime(Object.assign(Object.create(runtime()) as Runtime, {
      crypto: { name: 'counting', createSha256: () => crypto.createSha256(), hmacSha256: (key: Uint8Array, data: Uint8Array) => { macs++; return hmacSha256(key, data, crypto); } },
    }));
    for (let i = 0; i < 3; i++) assert.equal((await client.get('/me')).status, 200);
    assert.equal(macs, expected, `tokenCacheSize ${String(tokenCacheSize)}`);
  }
  installClock();
  for (const tokenCacheSize of [-1, 33, 2.5]) {
    assert.throws(() => new Session(undefined, { tokenCacheSize }), (error: Error) => error instanceof RangeError && /tokenCacheSize must be an integer from 0 to 32/.test(error.message));
  }
  assert.equal(runtime().store?.get(KEYS_STORE_KEY), undefined, 'no key was created for a Session that was refused');
});

test('responses built from a session are private: Vary: Cookie and Cache-Control: private, unless the app chose (CVE-2023-30861)', async () => {
  const { app } = loginApp();
  app.get('/public', () => 'no session here');
  app.get('/chosen', withSession((_req, session) => new Response(String(session.has('user')), 200, { 'Cache-Control': 'no-store', Vary: 'Accept-Encoding' })));
  app.get('/star', withSession(() => new Response('x', 200, { Vary: '*', 'Cache-Control': 'private, max-age=60' })));
  const client = new TestClient(app);
  const privateOf = (response: TestResponse) => [response.headers.get('vary'), response.headers.get('cache-control')];
  // Set (login), refreshed or read (peek, even anonymous), deleted (logout), and an error answer of a session route.
  assert.deepEqual(privateOf(await client.post('/login')), ['Cookie', 'private']);
  assert.deepEqual(privateOf(await client.get('/peek')), ['Cookie', 'private']);
  assert.deepEqual(privateOf(await new TestClient(app).get('/peek')), ['Cookie', 'private']);
  assert.deepEqual(privateOf(await new TestClient(app).get('/me')), ['Cookie', 'private'], '401 from a session route');
  assert.deepEqual(privateOf(await client.get('/chosen')), ['Accept-Encoding, Cookie', 'no-store']);
  assert.deepEqual(privateOf(await client.get('/star')), ['*', 'private, max-age=60']);
  assert.deepEqual(privateOf(await client.post('/logout')), ['Cookie', 'private']);
  // A response that never touched a session stays cacheable as the app made it.
  assert.deepEqual(privateOf(await client.get('/public')), [undefined, undefined]);
});

test('a session changed in a before hook is kept by the handler (microdot #339)', async () => {
  installClock();
  const app = new App();
  const sessions = new Session(app, { keys: [{ kid: 'k1', key: KEY }] });
  app.before((req: Request) => {
    const session = sessions.get(req);
    session.set('visits', Number(session.get('visits') ?? 0) + 1);
    return undefined;
  });
  app.get('/', withSession((_req, session) => ({ visits: session.get('visits'), theme: session.get('theme') ?? null })));
  app.post('/theme', withSession((_req, session) => { session.set('theme', 'dark'); return 'ok'; }));
  const client = new TestClient(app);
  assert.deepEqual((await client.get('/')).json, { visits: 1, theme: null });
  await client.post('/theme');
  assert.deepEqual((await client.get('/')).json, { visits: 3, theme: 'dark' });
});

test('regenerate() gives a new session id at login', async () => {
  const { app } = loginApp();
  const client = new TestClient(app);
  await client.post('/login');
  const first = (await client.get('/me')).json as { sid: string };
  await client.post('/login');
  const second = (await client.get('/me')).json as { sid: string };
  assert.notEqual(first.sid, second.sid);
  assert.match(first.sid, /^[\w-]{8}$/);
});

test('absolute lifetime ends a session even when it is used all the time', async () => {
  const { app, seen } = loginApp({ maxAge: 600, idleTimeout: 300 });
  const client = new TestClient(app);
  await client.post('/login');
  for (let t = 100; t <= 500; t += 100) {
    advance(100);
    assert.equal((await client.get('/me')).status, 200, `at ${t} s`);
  }
  advance(110);
  assert.equal((await client.get('/me')).status, 401);
  assert.equal(seen.at(-1), 'expired');
});

test('idle timeout ends a quiet session; activity slides it, re-issuing only after half the window', async () => {
  const { app, seen } = loginApp({ idleTimeout: 300 });
  const client = new TestClient(app);
  await client.post('/login');
  advance(100);
  const early = await client.get('/me');
  assert.equal(sessionCookie(early), undefined, 'no re-issue in the first half of the window');
  advance(100);
  const late = await client.get('/me');
  assert.ok(sessionCookie(late), 're-issued after half the window');
  advance(290);
  assert.equal((await client.get('/me')).status, 200, 'the re-issued token restarted the idle window');
  advance(310);
  assert.equal((await client.get('/me')).status, 401);
  assert.equal(seen.at(-1), 'idle');
});

test('on an unset clock tokens count from boot and die with a reboot', async () => {
  const { app } = loginApp();
  clock.trusted = false;
  const client = new TestClient(app);
  await client.post('/login');
  assert.equal((await client.get('/me')).status, 200);
  // Reboot: a new Session (new boot id), the monotonic clock starting again.
  clock.boot = 1_000;
  const rebooted = new App();
  const seen: (string | undefined)[] = [];
  new Session(rebooted, { keys: [{ kid: 'k1', key: KEY }] });
  rebooted.get('/me', withSession((_req, session) => { seen.push(session.rejected); return session.has('user') ? 'in' : abort(401); }));
  const after = new TestClient(rebooted);
  for (const [name, value] of client.cookies) after.cookies.set(name, value);
  assert.equal((await after.get('/me')).status, 401);
  assert.deepEqual(seen, ['boot']);
});

test('revokeAll(user) ends every existing session of that user only', async () => {
  const { app, sessions, seen } = loginApp();
  const alice1 = new TestClient(app);
  const alice2 = new TestClient(app);
  const bob = new TestClient(app);
  await alice1.post('/login', { form: { user: 'alice' } });
  await alice2.post('/login', { form: { user: 'alice' } });
  await bob.post('/login', { form: { user: 'bob' } });
  // Verified once, so the key ring remembers alice1's token: revocation must end it all the same.
  assert.equal((await alice1.get('/me')).status, 200);
  sessions.revokeAll('alice');
  assert.equal((await alice1.get('/me')).status, 401);
  assert.equal(seen.at(-1), 'revoked');
  assert.equal((await alice2.get('/me')).status, 401);
  assert.equal((await bob.get('/me')).status, 200);
  await alice1.post('/login', { form: { user: 'alice' } });
  assert.equal((await alice1.get('/me')).status, 200, 'a new login after revocation works');
  sessions.revokeAll('alice');
  assert.equal((await alice1.get('/me')).status, 401, 'and can be revoked again');
});

test('every single-bit flip, truncation, swap or duplicate of a valid cookie is no session, never an error', async () => {
  const { app } = loginApp();
  const client = new TestClient(app, { limits: { maxHeaderBytes: 16_384, maxRequestLine: 1024 } });
  await client.post('/login');
  const token = client.cookies.get('session') as string;
  const tampered = new Set<string>();
  for (let i = 0; i < token.length; i++) {
    for (let bit = 0; bit < 7; bit++) {
      const code = token.charCodeAt(i) ^ (1 << bit);
      // Flips into control characters, space or ';' cannot travel in a Cookie header (the parser answers 400).
      if (code <= 0x20 || code === 0x7f || code === 0x3b) continue;
      tampered.add(token.slice(0, i) + String.fromCharCode(code) + token.slice(i + 1));
    }
  }
  const [h, p, s] = token.split('.');
  for (const forged of [`${p}.${h}.${s}`, `${h}.${s}.${p}`, `${h}.${p}`, `${h}.${p}.`, token.slice(0, -1), token + 'A', `${h}.${p}.${s}.${s}`, 'A'.repeat(10_240), '']) tampered.add(forged);
  tampered.delete(token);
  let rejected = 0;
  for (const forged of tampered) {
    const response = await client.get('/me', { headers: { Cookie: `session=${forged}` } });
    if (response.status === 401) rejected++;
    else assert.fail(`status ${response.status} for ${JSON.stringify(forged.slice(0, 80))}`);
  }
  assert.equal(rejected, tampered.size);
  assert.ok(rejected > 900, `${rejected} variants`);
  const duplicate = await client.get('/me', { headers: { Cookie: `session=${token}; session=${token}` } });
  assert.equal(duplicate.status, 401, 'two cookies of the session name are refused');
});

test('a token signed with another key, or valid but without session claims, is no session', async () => {
  const { app, seen } = loginApp();
  const client = new TestClient(app);
  const other = new KeyRing([{ kid: 'k1', key: new Uint8Array(32).fill(9) }]);
  const now = Math.floor(clock.wall / 1000);
  /** A sid claim: the id, then the seconds from exp to the absolute end. */
  const sid = (rest: number) => `AAAAAAAA${base64urlDigits(rest, 4)}`;
  const forged = signToken({ user: 'admin', sid: sid(0), exp: now + 60 }, other);
  assert.equal((await client.get('/me', { headers: { Cookie: `session=${forged}` } })).status, 401);
  assert.equal(seen.at(-1), 'signature');
  const ours = new KeyRing([{ kid: 'k1', key: KEY }]);
  assert.equal((await client.get('/me', { headers: { Cookie: `session=${signToken({ user: 'admin', sid: sid(0), exp: now + 3600 }, ours)}` } })).status, 200, 'control');
  const payloads = [
    { user: 'admin' },
    { user: 'admin', sid: sid(0) },
    { user: 'admin', sid: 'AAAAAAAA', exp: now + 3600 },
    { user: 'admin', sid: 'AAAAAAA+AAAA', exp: now + 3600 },
    { user: 'admin', sid: sid(0), exp: now + 3600.5 },
    { user: 'admin', sid: sid(0), exp: now + 2 * 86_400 },
    { user: 'admin', sid: sid(600), exp: now + 2 * 3600 },
    { user: 'admin', sid: sid(0), exp: now + 3600, gen: 'high' },
    { user: 'admin', sid: sid(0), exp: now + 3600, bid: 'abc' },
  ];
  for (const payload of payloads) {
    assert.equal((await client.get('/me', { headers: { Cookie: `session=${signToken(payload, ours)}` } })).status, 401, JSON.stringify(payload));
  }
  assert.deepEqual(seen.slice(-payloads.length), ['claims', 'claims', 'claims', 'claims', 'claims', 'claims', 'claims', 'claims', 'boot']);
  const expired = signToken({ user: 'admin', sid: sid(0), exp: now - 50 }, ours);
  assert.equal((await client.get('/me', { headers: { Cookie: `session=${expired}` } })).status, 401);
  assert.equal(seen.at(-1), 'expired');
  const idle = signToken({ user: 'admin', sid: sid(600), exp: now - 50 }, ours);
  assert.equal((await client.get('/me', { headers: { Cookie: `session=${idle}` } })).status, 401);
  assert.equal(seen.at(-1), 'idle');
});

test('microdot-style bare tokens are accepted only with acceptBareTokens, and then re-issued with claims', async () => {
  const bareToken = signToken({ user: 'admin' }, new KeyRing([{ key: KEY }]));
  const strict = loginApp({ keys: [{ key: KEY }] });
  assert.equal((await new TestClient(strict.app).get('/me', { headers: { Cookie: `session=${bareToken}` } })).status, 401);
  const lenient = loginApp({ keys: [{ key: KEY }], acceptBareTokens: true });
  const response = await new TestClient(lenient.app).get('/me', { headers: { Cookie: `session=${bareToken}` } });
  assert.equal(response.status, 200);
  assert.match(sessionCookie(response) ?? '', /^session=/, 'upgraded to a token with exp and sid');
});

test('saving a session larger than maxTokenLength throws a clear error (500, logged)', async () => {
  const { app } = loginApp({ maxTokenLength: 300 });
  let thrown: unknown;
  app.post('/big', withSession((_req, session: SessionData) => {
    session.set('blob', 'x'.repeat(400));
    try {
      session.save();
    } catch (error) {
      thrown = error;
      throw error;
    }
    return 'saved';
  }));
  const response = await new TestClient(app).post('/big');
  assert.equal(response.status, 500);
  assert.match(String(thrown), /over maxTokenLength \(300\)/);
});

test('secure sessions use the __Host- prefix and Secure', async () => {
  const { app } = loginApp({ secure: true });
  const login = await new TestClient(app).post('/login');
  assert.match(sessionCookie(login, '__Host-session') ?? '', /; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
});

test('keys: created once in the store, rotated with the old key kept for verifying', async () => {
  installClock();
  const first = loadStoredKeys();
  assert.equal(first.length, 1);
  assert.equal(first[0].key.length, 32);
  assert.deepEqual(loadStoredKeys(), first, 'persisted, not regenerated');
  assert.doesNotMatch(runtime().store.get(KEYS_STORE_KEY) ?? '', /undefined/);
  const app = new App();
  const before = new Session(app, { keys: loadStoredKeys() });
  app.get('/login', withSession((_req, session) => { session.set('user', 'admin'); return 'ok'; }));
  app.get('/me', withSession((_req, session) => session.get('user') ?? abort(401)));
  const client = new TestClient(app);
  await client.get('/login');
  const oldToken = client.cookies.get('session') as string;
  const rotated = rotateStoredKeys();
  assert.equal(rotated.length, 2);
  assert.notEqual(rotated[0].kid, first[0].kid);
  const after = new Session(app, { keys: rotated });
  assert.notEqual(before.keyRing.signingHeader, after.keyRing.signingHeader);
  assert.equal((await client.get('/me')).text, 'admin', 'old token still verifies');
  await client.get('/login');
  const newToken = client.cookies.get('session') as string;
  assert.equal(newToken.split('.')[0], after.keyRing.signingHeader, 'the new key signs, never the old one');
  assert.notEqual(newToken, oldToken);
  const twice = rotateStoredKeys();
  assert.equal(twice.length, 2, 'bounded');
  new Session(app, { keys: twice });
  assert.equal((await new TestClient(app).get('/me', { headers: { Cookie: `session=${oldToken}` } })).status, 401, 'a key rotated out of the ring no longer verifies');
});

test('parseSecret: "hex:" or "base64url:" and 32+ bytes, one rule; each refusal says which, never echoing the secret', () => {
  const bytes = new Uint8Array(32).map((_, i) => i);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  assert.deepEqual(parseSecret(`hex:${hex}`), bytes);
  assert.deepEqual(parseSecret(`hex:${hex.toUpperCase()}`), bytes);
  assert.deepEqual(parseSecret(` base64url:${base64urlEncode(bytes)}\n`), bytes);
  const refuses = (text: string, message: RegExp) => assert.throws(() => parseSecret(text), (error: Error) => message.test(error.message) && !error.message.includes(text.slice(-20)), text);
  // The input: 44–63 hex digits were silently read as base64url (22–31 bytes passed the 32-byte rule).
  for (let digits = 44; digits < 64; digits++) refuses('ab'.repeat(32).slice(0, digits), /must start with "hex:" \(64\+ hex digits\) or "base64url:" \(43\+ characters\)/);
  refuses(hex, /must start with/);
  refuses(base64urlEncode(bytes), /must start with/);
  refuses(`hex:${hex.slice(0, 62)}`, /after "hex:" gives 31 bytes; at least 32/);
  refuses(`hex:${hex.slice(0, 63)}`, /odd number of digits \(63\)/);
  refuses(`hex:${hex.slice(0, 62)}zz`, /not a hex digit/);
  refuses(`base64url:${base64urlEncode(bytes.subarray(0, 31))}`, /after "base64url:" gives 31 bytes/);
  refuses(`base64url:${base64urlEncode(bytes)}=`, /not unpadded base64url/);
  refuses(`base64url:${hex}+/`, /not unpadded base64url/);
  refuses('HEX:' + hex, /must start with/);
  assert.throws(() => new Session(undefined, { keys: [{ key: new Uint8Array(16) }] }), /at least 32 bytes/);
});

import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtime } from '../../modules/runtime';
import { App, type Request } from '../../modules/http/index';
import { TestClient } from '../../modules/http/testclient';
import { base64urlEncode } from '../../modules/crypto/base64url';
import { BasicAuth, credentialsMatch, Throttle, TokenAuth } from '../../modules/auth/index';

const TOKEN = 'dGhpcyBpcyBhIHRlc3QgdG9rZW4.x_y~z+1/2=';

/** Standard padded base64 (RFC 4648 §4) of `bytes`. */
function base64(bytes: Uint8Array): string {
  const text = base64urlEncode(bytes).replace(/-/g, '+').replace(/_/g, '/');
  return text + '='.repeat((4 - (text.length % 4)) % 4);
}

const basic = (user: string, password: string) => `Basic ${base64(runtime().utf8Encode(`${user}:${password}`))}`;

/** A throttle on a clock the test moves. */
function testThrottle(free?: number): { throttle: Throttle; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { throttle: new Throttle({ now: () => clock.now, freeFailures: free, sharedFreeFailures: free }), clock };
}

function basicApp(free?: number) {
  const { throttle, clock } = testThrottle(free);
  const auth = new BasicAuth<{ name: string }>({ realm: 'my device', throttle });
  const calls: [string, string][] = [];
  auth.authenticate((_request, username, password) => {
    calls.push([username, password]);
    return username === 'ada' && credentialsMatch(password, 'pässwörd:🔑') ? { name: username } : undefined;
  });
  const app = new App();
  app.get('/api/me', auth.required((request: Request, user) => ({ user: user.name, same: request.g.currentUser === user })));
  return { app, calls, throttle, clock };
}

test('BasicAuth: no credentials → 401 with the challenge; right ones reach the handler with the user; a colon in the password is kept', async () => {
  const { app, calls } = basicApp();
  const client = new TestClient(app);
  const anonymous = await client.get('/api/me');
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('www-authenticate'), 'Basic realm="my device", charset="UTF-8"');
  const ok = await client.get('/api/me', { headers: { Authorization: basic('ada', 'pässwörd:🔑') } });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { user: 'ada', same: true });
  assert.deepEqual(calls, [['ada', 'pässwörd:🔑']]);
  const scheme = await client.get('/api/me', { headers: { Authorization: basic('ada', 'pässwörd:🔑').replace('Basic', 'bAsIc') } });
  assert.equal(scheme.status, 200, 'the scheme is case-insensitive (RFC 9110 §11.1)');
});

test('BasicAuth: malformed credentials are 401 (never 500) and never reach the callback', async () => {
  const bad = [
    'Basic', 'Basic ', 'Basic !!!!', 'Basic YWRh', /* "ada": no colon */ 'Basic YWRhOnA', /* unpadded */ 'Basic YWRhOnA==',
    'Basic YWRhOnA=x', 'Basic =YWRhOnA', 'Basic YWRhOnB=', /* non-canonical bits */ 'Bearer YWRhOnA=', 'YWRhOnA=',
    `Basic ${base64(new Uint8Array([0x61, 0x3a, 0xff, 0xfe]))}`, /* not UTF-8 */ basic('ada', 'pa\nss'), basic('a\x00da', 'p'),
    `Basic ${'A'.repeat(600)}`, /* over maxLength */ 'Basic YWRhOnA=\u00e9',
  ];
  const { app, calls } = basicApp(bad.length);
  const client = new TestClient(app);
  for (const value of bad) {
    const response = await client.get('/api/me', { headers: { Authorization: value } });
    assert.equal(response.status, 401, JSON.stringify(value));
    assert.match(response.headers.get('www-authenticate') ?? '', /^Basic realm=/);
  }
  assert.deepEqual(calls, []);
  assert.equal((await client.get('/api/me', { headers: { Authorization: 'Basic !' } })).status, 401);
  assert.equal((await client.get('/api/me', { headers: { Authorization: basic('ada', 'pässwörd:🔑') } })).status, 429, 'each malformed attempt counted as a failure');
});

test('BasicAuth: two Authorization headers are refused', async () => {
  const { app, calls } = basicApp();
  const client = new TestClient(app);
  const raw = `GET /api/me HTTP/1.1\r\nHost: t\r\nAuthorization: ${basic('ada', 'pässwörd:🔑')}\r\nAuthorization: ${basic('eve', 'x')}\r\nConnection: close\r\n\r\n`;
  const reply = runtime().utf8Decode(await client.exchange(runtime().utf8Encode(raw)));
  assert.match(reply, /^HTTP\/1\.1 401 /);
  assert.deepEqual(calls, []);
});

test('BasicAuth: wrong passwords are throttled per address (429 + Retry-After, the callback not even called), and by a shared budget', async () => {
  const { app, calls, throttle, clock } = basicApp();
  const attacker = new TestClient(app, { clientAddress: '192.0.2.7' });
  const guess = (password: string) => attacker.get('/api/me', { headers: { Authorization: basic('ada', password) } });
  for (let i = 0; i < throttle.freeFailures; i++) assert.equal((await guess(`wrong ${i}`)).status, 401);
  assert.equal((await guess('wrong again')).status, 401, 'the failure that starts the wait');
  const throttled = await guess('pässwörd:🔑');
  assert.equal(throttled.status, 429, 'even the right password waits');
  assert.equal(throttled.headers.get('retry-after'), '1');
  assert.equal(calls.length, throttle.freeFailures + 1, 'a throttled attempt is not checked');
  const other = new TestClient(app, { clientAddress: '198.51.100.1' });
  assert.equal((await other.get('/api/me', { headers: { Authorization: basic('ada', 'pässwörd:🔑') } })).status, 200, 'another address is not held up');
  clock.now += 1000;
  assert.equal((await guess('pässwörd:🔑')).status, 200, 'after the wait, the right password works');

  // Many addresses: the shared budget (10 failures of all clients) makes everyone wait.
  for (let i = 0; i < throttle.sharedFreeFailures; i++) {
    await new TestClient(app, { clientAddress: `203.0.113.${i}` }).get('/api/me', { headers: { Authorization: basic('ada', 'x') } });
  }
  const fresh = await new TestClient(app, { clientAddress: '203.0.113.200' }).get('/api/me', { headers: { Authorization: basic('ada', 'y') } });
  assert.equal(fresh.status, 429, 'a new address waits with the flood');
});

test('TokenAuth: Bearer tokens (RFC 6750 syntax), 401 otherwise; an async callback; a custom header', async () => {
  const { throttle } = testThrottle(100);
  const auth = new TokenAuth<string>({ throttle });
  auth.authenticate(async (_request, token) => (credentialsMatch(token, TOKEN) ? 'script' : undefined));
  const app = new App();
  app.get('/api/status', auth.required((_request, user) => `hello ${user}`));
  const keyed = new TokenAuth<string>({ header: 'X-API-Key', throttle: new Throttle() });
  keyed.authenticate((_request, token) => (credentialsMatch(token, TOKEN) ? 'key' : undefined));
  app.get('/api/keyed', keyed.required((_request, user) => `hello ${user}`));
  const client = new TestClient(app);
  assert.equal((await client.get('/api/status', { headers: { Authorization: `Bearer ${TOKEN}` } })).text, 'hello script');
  assert.equal((await client.get('/api/status', { headers: { Authorization: `bearer   ${TOKEN}` } })).text, 'hello script');
  const missing = await client.get('/api/status');
  assert.equal(missing.status, 401);
  assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="xsdot", charset="UTF-8"');
  for (const value of [`Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer', 'Bearer ', `Bearer ${TOKEN} extra`, `Bearer a=b`, `Bearer ${'a'.repeat(600)}`, TOKEN]) {
    assert.equal((await new TestClient(app, { clientAddress: '10.1.1.1' }).get('/api/status', { headers: { Authorization: value } })).status, 401, value);
  }
  assert.equal((await client.get('/api/keyed', { headers: { 'X-API-Key': TOKEN } })).text, 'hello key');
  assert.equal((await client.get('/api/keyed', { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 401);
});

test('credentialsMatch: equal strings only, whatever their lengths', () => {
  assert.equal(credentialsMatch('secret', 'secret'), true);
  for (const other of ['', 'secreT', 'secret ', 'secre', 'a'.repeat(10_000)]) assert.equal(credentialsMatch(other, 'secret'), false, other);
  assert.equal(credentialsMatch('🔑', '🔑'), true);
});

test('HTTP auth: options are checked; a route served before authenticate() fails loudly (500), not open', async () => {
  assert.throws(() => new BasicAuth({ realm: 'a"b' }), /realm/);
  assert.throws(() => new BasicAuth({ realm: 'a\nb' }), /realm/);
  assert.throws(() => new TokenAuth({ scheme: 'Bear er' }), /scheme/);
  assert.throws(() => new TokenAuth({ maxLength: 0 }), /maxLength/);
  const app = new App();
  app.get('/x', new TokenAuth().required(() => 'open'));
  assert.equal((await new TestClient(app).get('/x', { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 500);
});

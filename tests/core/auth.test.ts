import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installRuntime, runtime } from '../../modules/runtime';
import { App } from '../../modules/http/index';
import { TestClient } from '../../modules/http/testclient';
import { base64urlDecode, base64urlEncode as encode } from '../../modules/crypto/base64url';
import { HmacSha256Key } from '../../modules/crypto/hmac';
import {
  clientKey, contentSecurityPolicy, CsrfTokens, csrfGuard, hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH,
  newSetupCode, PasswordError, passwordProblem, PasswordStore, pbkdf2Sha256, setupCodeMatches, Throttle, verifyPassword,
} from '../../modules/auth/index';

const utf8 = (text: string) => runtime().utf8Encode(text);

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += (byte < 16 ? '0' : '') + byte.toString(16);
  return out;
}

function decode(text: string): Uint8Array {
  const bytes = base64urlDecode(text);
  assert.ok(bytes);
  return bytes;
}

function memoryStore() {
  const values = new Map<string, string>();
  return { values, get: (k: string) => values.get(k), set: (k: string, v: string) => void values.set(k, v), delete: (k: string) => void values.delete(k) };
}

// --- PBKDF2 -----------------------------------------------------------------------------------------

test('PBKDF2-HMAC-SHA256: the RFC 6070-style vectors and RFC 7914 §11', () => {
  const vectors: [string, string, number, number, string][] = [
    ['password', 'salt', 1, 32, '120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b'],
    ['password', 'salt', 2, 32, 'ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43'],
    ['password', 'salt', 4096, 32, 'c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a'],
    ['passwordPASSWORDpassword', 'saltSALTsaltSALTsaltSALTsaltSALTsalt', 4096, 40,
      '348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9'],
    ['pass\0word', 'sa\0lt', 4096, 16, '89b69d0516f829893c696226650a8687'],
    ['passwd', 'salt', 1, 64,
      '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783'],
  ];
  for (const [password, salt, iterations, length, expected] of vectors) {
    assert.equal(hex(pbkdf2Sha256(utf8(password), utf8(salt), iterations, length)), expected, `${JSON.stringify(password)} × ${iterations}`);
  }
});

test('PBKDF2: refuses bad iteration counts and lengths', () => {
  for (const iterations of [0, -1, 1.5, NaN]) assert.throws(() => pbkdf2Sha256(utf8('p'), utf8('s'), iterations), RangeError);
  for (const length of [0, 1025]) assert.throws(() => pbkdf2Sha256(utf8('p'), utf8('s'), 1, length), RangeError);
});

// --- Password records ---------------------------------------------------------------------------------

test('hashPassword: pbkdf2-sha256$<iter>$<16-byte salt>$<32-byte hash>, a fresh salt each time; verifyPassword checks it', () => {
  const record = hashPassword('correct horse', 3);
  assert.match(record, /^pbkdf2-sha256\$3\$[\w-]{22}\$[\w-]{43}$/);
  assert.notEqual(hashPassword('correct horse', 3), record, 'another salt');
  assert.equal(verifyPassword('correct horse', record), true);
  assert.equal(verifyPassword('correct horsE', record), false);
  assert.equal(verifyPassword('', record), false);
  const [, , salt, hash] = record.split('$');
  const expected = pbkdf2Sha256(utf8('correct horse'), decode(salt), 3);
  assert.equal(hash, encode(expected), 'the stored hash is PBKDF2 of the password under the stored salt');
});

test('verifyPassword: a malformed record is a mismatch, never an exception', () => {
  const good = hashPassword('correct horse', 2);
  const [scheme, , salt, hash] = good.split('$');
  for (const record of ['', 'x', good + '$', `md5$2$${salt}$${hash}`, `${scheme}$0$${salt}$${hash}`, `${scheme}$02$${salt}$${hash}`,
    `${scheme}$99999999$${salt}$${hash}`, `${scheme}$2$${salt}=$${hash}`, `${scheme}$2$${salt}$${hash.slice(0, 10)}`, `${scheme}$2$$`]) {
    assert.equal(verifyPassword('correct horse', record), false, record);
  }
});

test('password length: 8–64 characters (code points), with messages that say so', () => {
  assert.equal(MIN_PASSWORD_LENGTH, 8);
  assert.equal(MAX_PASSWORD_LENGTH, 64);
  assert.match(passwordProblem('1234567') ?? '', /at least 8 characters/);
  assert.equal(passwordProblem('12345678'), undefined);
  assert.equal(passwordProblem('x'.repeat(64)), undefined);
  assert.match(passwordProblem('x'.repeat(65)) ?? '', /at most 64 characters/);
  assert.equal(passwordProblem('🔑'.repeat(8)), undefined, '8 emoji are 8 characters (16 UTF-16 units)');
  assert.equal(passwordProblem('🔑'.repeat(64)), undefined);
  assert.match(passwordProblem('🔑'.repeat(65)) ?? '', /at most/);
  assert.match(passwordProblem('🔑'.repeat(7)) ?? '', /at least/);
  assert.throws(() => hashPassword('short'), (error: Error) => error instanceof PasswordError && /at least 8/.test(error.message));
});

test('PasswordStore: records under pw.<user> (NVS-sized keys), verify in constant time, unknown users never throw', () => {
  const store = memoryStore();
  const passwords = new PasswordStore({ iterations: 2, store });
  assert.equal(passwords.has('admin'), false);
  assert.equal(passwords.verify('admin', 'anything at all'), false);
  passwords.set('admin', 'pässwörd 🔑 long');
  assert.deepEqual([...store.values.keys()], ['pw.admin']);
  assert.match(store.values.get('pw.admin') ?? '', /^pbkdf2-sha256\$2\$/);
  assert.equal(passwords.has('admin'), true);
  assert.equal(passwords.verify('admin', 'pässwörd 🔑 long'), true);
  assert.equal(passwords.verify('admin', 'pässwörd 🔑 lonG'), false);
  for (const user of ['root', '', 'a'.repeat(40), '<script>', 'pw.admin\0']) assert.equal(passwords.verify(user, 'pässwörd 🔑 long'), false);
  assert.throws(() => passwords.set('Admin User', 'long enough'), TypeError);
  assert.throws(() => passwords.set('admin', 'short'), PasswordError);
  assert.equal(passwords.verify('admin', 'pässwörd 🔑 long'), true, 'a refused change leaves the password as it was');
  store.values.set('pw.admin', 'corrupt');
  assert.equal(passwords.has('admin'), false, 'a corrupt record counts as no password');
  assert.throws(() => new PasswordStore({ iterations: 0 }), RangeError);
});

test('a password over 64 characters is refused before PBKDF2 (the issue-12 60 KB password costs nothing)', () => {
  const store = memoryStore();
  const passwords = new PasswordStore({ iterations: 50, store });
  passwords.set('admin', 'a'.repeat(64));
  const host = runtime();
  let hashes = 0;
  const counting = Object.create(host.crypto) as typeof host.crypto;
  // Counts finished hashes (two per HMAC, however the HMAC keeps its hash objects between MACs).
  counting.createSha256 = () => {
    const hash = host.crypto.createSha256();
    return {
      update: (data: Uint8Array) => hash.update(data),
      digest: () => { hashes++; return hash.digest(); },
      ...(hash.reset === undefined ? {} : { reset: () => hash.reset?.() }),
    };
  };
  if (host.crypto.hmacSha256 !== undefined) counting.hmacSha256 = (key, data) => { hashes++; return (host.crypto.hmacSha256 as NonNullable<typeof host.crypto.hmacSha256>)(key, data); };
  const shim = Object.create(host) as typeof host;
  Object.defineProperty(shim, 'crypto', { value: counting });
  installRuntime(shim);
  try {
    const cost = (user: string, password: string) => {
      hashes = 0;
      const ok = passwords.verify(user, password);
      return { ok, hashes };
    };
    assert.deepEqual(cost('admin', 'a'.repeat(64)), { ok: true, hashes: cost('admin', 'a'.repeat(64)).hashes });
    assert.ok(cost('admin', 'a'.repeat(64)).hashes >= 50, 'a normal check runs PBKDF2');
    for (const guess of ['a'.repeat(60 * 1024), 'a'.repeat(65), '🔑'.repeat(65), 'a'.repeat(129)]) {
      assert.deepEqual(cost('admin', guess), { ok: false, hashes: 0 }, `${guess.length} units`);
      assert.deepEqual(cost('nobody', guess), { ok: false, hashes: 0 }, 'unknown user too');
      assert.equal(verifyPassword(guess, store.values.get('pw.admin') ?? ''), false);
    }
    assert.ok(cost('admin', '🔑'.repeat(64)).hashes >= 50, '64 emoji are 64 characters: checked');
  } finally {
    installRuntime(host);
  }
});

// --- CSRF -------------------------------------------------------------------------------------------

test('CSRF tokens: bound to the session id, 43 base64url characters, anything else refused', () => {
  const tokens = new CsrfTokens(new Uint8Array(32).fill(1));
  const token = tokens.token('sid-one');
  assert.match(token, /^[\w-]{43}$/);
  assert.equal(tokens.token('sid-one'), token, 'deterministic per sid');
  assert.equal(tokens.verify('sid-one', token), true);
  assert.equal(tokens.verify('sid-two', token), false, 'another session');
  assert.equal(tokens.verify('sid-one', tokens.token('sid-two')), false);
  assert.equal(new CsrfTokens(new Uint8Array(32).fill(2)).verify('sid-one', token), false, 'another key');
  const flipped = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
  for (const bad of [undefined, '', flipped, token + 'A', token.slice(0, 42), token.slice(0, 42) + '=', ' '.repeat(43), 'é'.repeat(43)]) {
    assert.equal(tokens.verify('sid-one', bad), false, String(bad));
  }
  assert.throws(() => new CsrfTokens(new Uint8Array(16)), RangeError);
});

test('CSRF tokens: derived from another key, apart from its other uses', () => {
  const secret = new HmacSha256Key(new Uint8Array(32).fill(9));
  const a = CsrfTokens.derive(secret);
  const b = CsrfTokens.derive(secret);
  assert.equal(a.token('s'), b.token('s'));
  assert.notEqual(a.token('s'), encode(secret.sign(utf8('csrfs'))), 'not a plain MAC under the session key');
});

/** An app with the CSRF guard whose "session id" is the `sid` query argument. */
function guarded(scheme?: 'http' | 'https'): { client: TestClient; token: (sid: string) => string } {
  const tokens = new CsrfTokens(new Uint8Array(32).fill(3));
  const app = new App();
  app.before(csrfGuard({ tokens, sid: (request) => request.query.get('sid') ?? '', scheme }));
  app.route('/act', ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], () => 'done');
  return { client: new TestClient(app), token: (sid) => tokens.token(sid) };
}

test('csrfGuard: GET passes; other methods need a same-origin Origin (or Referer) and the session token', async () => {
  const { client, token } = guarded();
  const t = token('s1');
  const origin = { Origin: 'http://localhost' };
  assert.equal((await client.get('/act?sid=s1')).status, 200);
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    assert.equal((await client.request(method, '/act?sid=s1', { form: { csrf_token: t }, headers: origin })).status, 200, method);
    assert.equal((await client.request(method, '/act?sid=s1', { form: { csrf_token: t } })).status, 403, `${method} without Origin`);
  }
  assert.equal((await client.post('/act?sid=s1', { headers: { ...origin, 'X-CSRF-Token': t } })).status, 200, 'header token');
  assert.equal((await client.post('/act?sid=s1', { headers: origin })).status, 403, 'no token');
  assert.equal((await client.post('/act?sid=s2', { form: { csrf_token: t }, headers: origin })).status, 403, "another session's token");
  assert.equal((await client.post('/act?sid=s1', { body: `csrf_token=${t}&csrf_token=${t}`, headers: { ...origin, 'Content-Type': 'application/x-www-form-urlencoded' } })).status, 403, 'repeated token field');
  const refused = await client.post('/act?sid=s1', { form: { csrf_token: 'x' }, headers: origin });
  assert.equal(refused.status, 403);
  assert.match(refused.text, /Reload the page/);
});

test('isSameOrigin: scheme, host and port must match the request authority; default ports, case, IPv6, Referer fallback; null and tricks refused', async () => {
  const { client, token } = guarded();
  const form = { csrf_token: token('s') };
  const status = async (headers: Record<string, string>) => (await client.post('/act?sid=s', { form, headers })).status;
  assert.equal(await status({ Origin: 'http://localhost' }), 200);
  assert.equal(await status({ Origin: 'http://LOCALHOST:80' }), 200);
  assert.equal(await status({ Host: 'device.local:8080', Origin: 'http://device.local:8080' }), 200);
  assert.equal(await status({ Host: 'device.local:8080', Origin: 'http://device.local' }), 403, 'port differs');
  assert.equal(await status({ Host: 'device.local', Origin: 'https://device.local' }), 403, 'the scheme differs (http server)');
  assert.equal(await status({ Host: 'device.local:443', Origin: 'http://device.local:443' }), 200);
  assert.equal(await status({ Host: '[fe80::1]:8080', Origin: 'http://[FE80::1]:8080' }), 200);
  assert.equal(await status({ Host: '192.168.1.20', Origin: 'http://192.168.1.21' }), 403);
  assert.equal(await status({ Origin: 'http://evil.example' }), 403);
  assert.equal(await status({ Origin: 'null' }), 403);
  assert.equal(await status({ Origin: 'http://localhost@evil.example' }), 403);
  assert.equal(await status({ Origin: 'http://localhost.evil.example' }), 403);
  assert.equal(await status({ Origin: 'file://' }), 403);
  assert.equal(await status({ Referer: 'http://localhost/login?x=1' }), 200, 'Referer when Origin is absent');
  assert.equal(await status({ Referer: 'http://evil.example/localhost' }), 403);
  assert.equal(await status({ Origin: 'http://evil.example', Referer: 'http://localhost/' }), 403, 'Origin wins over Referer');
  // An absolute-form target's authority is what the request was sent to (RFC 9112 §3.2.2), not Host.
  const absolute = await client.post('http://evil.example/act?sid=s', { form, headers: { Origin: 'http://localhost' } });
  assert.equal(absolute.status, 403, 'absolute-form authority differs from Origin');
  assert.equal((await client.post('http://localhost/act?sid=s', { form, headers: { Host: 'other', Origin: 'http://localhost' } })).status, 200);

  const tls = guarded('https');
  const viaProxy = async (headers: Record<string, string>) => (await tls.client.post('/act?sid=s', { form: { csrf_token: tls.token('s') }, headers })).status;
  assert.equal(await viaProxy({ Host: 'device.local', Origin: 'https://device.local' }), 200, 'behind a TLS proxy: Host has no port');
  assert.equal(await viaProxy({ Host: 'device.local:80', Origin: 'https://device.local' }), 403, 'https implies 443');
  assert.equal(await viaProxy({ Host: 'device.local', Origin: 'http://device.local' }), 403, 'http origin on an https server');
});

// --- Throttle ----------------------------------------------------------------------------------------

function throttleWithClock(options: ConstructorParameters<typeof Throttle>[0] = {}) {
  const clock = { ms: 1_000_000 };
  const throttle = new Throttle({ now: () => clock.ms, ...options });
  return { throttle, clock };
}

test('Throttle: free failures, then waits that double up to the cap, in whole seconds for Retry-After', () => {
  const { throttle, clock } = throttleWithClock({ freeFailures: 3, baseDelay: 1000, maxDelay: 8000, shared: false });
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    assert.equal(throttle.retryAfter('a'), 0, `attempt ${i + 1} may go ahead`);
    waits.push(throttle.failure('a'));
    assert.equal(throttle.retryAfter('a'), waits[i]);
    clock.ms += waits[i] * 1000;
  }
  assert.deepEqual(waits, [0, 0, 0, 1, 2, 4, 8, 8]);
  throttle.failure('b');
  throttle.failure('b');
  throttle.failure('b');
  throttle.failure('b');
  clock.ms += 400;
  assert.equal(throttle.retryAfter('b'), 1, 'rounded up: 600 ms left is 1 s');
  clock.ms += 600;
  assert.equal(throttle.retryAfter('b'), 0);
});

test('Throttle: success resets the client; quiet clients are forgotten; clients are independent', () => {
  const { throttle, clock } = throttleWithClock({ freeFailures: 1, forgetAfter: 60_000, shared: false });
  throttle.failure('a');
  throttle.failure('a');
  assert.ok(throttle.retryAfter('a') > 0);
  assert.equal(throttle.retryAfter('b'), 0, 'another client is not affected');
  throttle.success('a');
  assert.equal(throttle.retryAfter('a'), 0);
  assert.equal(throttle.failure('a'), 0, 'the count starts again');
  clock.ms += 60_000;
  assert.equal(throttle.failure('a'), 0, 'forgotten after a quiet minute');
  assert.equal(throttle.failure('a'), 1);
});

test('Throttle: bounded table; cycling through more addresses than it holds gains nothing: the shared entry counts every failure', () => {
  const { throttle, clock } = throttleWithClock({ size: 4, freeFailures: 2, sharedFreeFailures: 4, baseDelay: 1000 });
  const waits: number[] = [];
  for (let i = 0; i < 10; i++) {
    const client = `10.0.0.${i}`;
    waits.push(throttle.retryAfter(client));
    throttle.failure(client);
    assert.ok(throttle.count <= 4, `table holds ${throttle.count}`);
  }
  assert.deepEqual(waits, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16], 'every new address waits for the shared entry');
  assert.ok(throttle.retryAfter('192.0.2.1') > 0, 'so does anyone else');
  clock.ms += 40_000;
  assert.equal(throttle.retryAfter('192.0.2.1'), 0);
  throttle.success('192.0.2.1');
  assert.equal(throttle.failure('192.0.2.1') > 0, true, 'a success resets the client, not the shared count');
  for (let i = 0; i < 100; i++) {
    clock.ms += 60 * 60_000;
    throttle.failure(`198.51.100.${i}`);
  }
  assert.ok(throttle.count <= 4);
});

test('Throttle, issue 12: 17 flooding addresses guess no faster than one address, and a trusted key is untouched', () => {
  const rate = (addresses: number) => {
    const { throttle, clock } = throttleWithClock();
    let guesses = 0;
    // Every address tries once a second for an hour; a try counts when the throttle lets it through.
    for (let second = 0; second < 3600; second++, clock.ms += 1000) {
      for (let a = 0; a < addresses; a++) {
        const client = `203.0.113.${a}`;
        if (throttle.retryAfter(client) > 0) continue;
        guesses++;
        throttle.failure(client);
      }
    }
    return guesses;
  };
  const one = rate(1);
  const many = rate(17);
  // The shared entry allows 10 free failures where one address has 3; after that both double to 15 min.
  assert.ok(many <= one + 7, `17 addresses made ${many} guesses in an hour, one address ${one}`);
  assert.ok(one <= 16, `one address: ${one} guesses in an hour`);

  const { throttle, clock } = throttleWithClock();
  const trusted = new Throttle({ now: () => clock.ms, shared: false });
  for (let i = 0; i < 200; i++) throttle.failure(`2001:db8:${i}::1`);
  assert.ok(throttle.retryAfter('2001:db8:ffff::1') > 0, 'untrusted newcomers wait during the flood');
  assert.equal(trusted.retryAfter('d:admin-browser'), 0, "the admin's device cookie has its own budget");
});

test('Throttle: refuses nonsense options', () => {
  assert.throws(() => new Throttle({ size: 0 }), RangeError);
  assert.throws(() => new Throttle({ baseDelay: 0 }), RangeError);
  assert.throws(() => new Throttle({ baseDelay: 10, maxDelay: 5 }), RangeError);
});

test('clientKey: one key per client whatever the socket reports', () => {
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('::FFFF:192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('FE80::1'), 'fe80:0:0:0::/64');
  assert.equal(clientKey('2001:db8:1:2::7'), clientKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), 'IPv6 by /64');
  assert.equal(clientKey(undefined), '?');
});

// --- Setup codes and headers ----------------------------------------------------------------------------

test('setup codes: 8 Crockford base32 characters, forgiving to type, compared exactly otherwise', () => {
  const codes = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const code = newSetupCode();
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    codes.add(code);
  }
  assert.equal(codes.size, 20);
  assert.equal(setupCodeMatches('7KQ4-M2X0', '7KQ4-M2X0'), true);
  assert.equal(setupCodeMatches('7KQ4-M2X0', '7kq4 m2xo'), true);
  assert.equal(setupCodeMatches('1KQ4-M2X0', 'ikq4m2x0'), true);
  assert.equal(setupCodeMatches('7KQ4-M2X0', '7KQ4-M2X1'), false);
  assert.equal(setupCodeMatches('7KQ4-M2X0', '7KQ4-M2X'), false);
  assert.equal(setupCodeMatches('7KQ4-M2X0', ''), false);
  assert.equal(setupCodeMatches('7KQ4-M2X0', '7KQ4-M2X0'.repeat(10)), false);
});

test('contentSecurityPolicy: inline styles allowed by SHA-256 hash only; no scripts, framing or foreign forms', () => {
  assert.equal(
    contentSecurityPolicy(''),
    "default-src 'none'; style-src 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  );
  assert.match(contentSecurityPolicy(), /style-src 'none'/);
  assert.match(contentSecurityPolicy('a{}', 'b{}'), /style-src 'sha256-[\w+/]{43}=' 'sha256-[\w+/]{43}='/);
});

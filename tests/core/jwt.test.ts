import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtime } from '../../modules/runtime';
import { base64urlDecode, base64urlEncode } from '../../modules/crypto/base64url';
import { hmacSha256 } from '../../modules/crypto/hmac';
import { pureCryptoProvider } from '../../modules/crypto/sha256';
import { DEFAULT_CACHE_SIZE, KeyRing, MAX_CACHE_SIZE, MAX_KIDLESS_KEYS, signToken, verifyToken, type VerifyResult } from '../../modules/session/jwt';
import type { CryptoProvider } from '../../modules/runtime';
import pyjwt from '../fixtures/pyjwt.json' with { type: 'json' };

const text = (value: string): Uint8Array => runtime().utf8Encode(value);

/** A distinct 32-byte key per seed. */
function key(seed: number, length = 32): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seed * 31 + i * 7) & 0xff;
  return bytes;
}

const A = key(1);
const B = key(2);
const C = key(3);
const NOW = 1_700_000_000;
/** The header xsdot signs without a kid (PyJWT's with headers={"typ": None}). */
const KIDLESS_HEADER = '{"alg":"HS256"}';
/** PyJWT's default header, which a ring made with `typ: true` signs. */
const PYJWT_HEADER = '{"alg":"HS256","typ":"JWT"}';

/** A token with exactly this header and payload JSON, correctly MACed with `secret`. */
function forge(header: string, payload: string, secret: Uint8Array = A): string {
  const input = `${base64urlEncode(text(header))}.${base64urlEncode(text(payload))}`;
  return `${input}.${base64urlEncode(hmacSha256(secret, text(input)))}`;
}

function reason(result: VerifyResult): string {
  return result.ok ? 'ok' : result.reason;
}

test('sign and verify round trip', () => {
  const ring = new KeyRing([{ key: A }]);
  const token = signToken({ user: 'admin', n: 1, list: [1, 'two', null], nested: { ok: true } }, ring);
  const result = verifyToken(token, ring, { now: NOW });
  assert.ok(result.ok);
  assert.deepEqual(result.header, { alg: 'HS256' });
  assert.deepEqual(result.payload, { user: 'admin', n: 1, list: [1, 'two', null], nested: { ok: true } });
});

test('the kid-less header is compact by default, PyJWT\'s byte for byte with typ: true', () => {
  const token = signToken({ user: 'admin' }, new KeyRing([{ key: A }]));
  assert.equal(token.split('.')[0], base64urlEncode(text(KIDLESS_HEADER)));
  assert.equal(token.split('.')[0], 'eyJhbGciOiJIUzI1NiJ9');
  const pyjwtStyle = signToken({ user: 'admin' }, new KeyRing([{ key: A }], { typ: true }));
  assert.equal(pyjwtStyle.split('.')[0], base64urlEncode(text(PYJWT_HEADER)));
  assert.equal(pyjwtStyle.split('.')[0], 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9');
  const kid = signToken({ user: 'admin' }, new KeyRing([{ kid: 'k1', key: A }], { typ: true }));
  assert.equal(runtime().utf8Decode(base64urlDecode(kid.split('.')[0]) as Uint8Array), '{"alg":"HS256","kid":"k1","typ":"JWT"}');
});

test('non-ASCII payloads are escaped as PyJWT does, and round trip', () => {
  const ring = new KeyRing([{ key: A }]);
  const payload = { name: 'Zo\u00eb \u2603 \ud83d\ude00', ctl: 'tab\tnl\nq"bs\\del\u007f' };
  const token = signToken(payload, ring);
  const result = verifyToken(token, ring, { now: NOW });
  assert.ok(result.ok);
  assert.deepEqual(result.payload, payload);
  assert.equal(token, forge(KIDLESS_HEADER, '{"name":"Zo\\u00eb \\u2603 \\ud83d\\ude00","ctl":"tab\\tnl\\nq\\"bs\\\\del\\u007f"}'));
});

test('PyJWT fixtures: we accept its tokens and sign the identical strings', () => {
  const secret = text(pyjwt.key);
  assert.ok(pyjwt.tokens.length >= 8);
  for (const fixture of pyjwt.tokens) {
    const { kid } = fixture as { kid?: string };
    const ring = new KeyRing([{ kid, key: secret }], { typ: true });
    const result = verifyToken(fixture.token, ring, { now: NOW });
    assert.ok(result.ok, `${fixture.token}: ${reason(result)}`);
    assert.deepEqual(result.payload, fixture.payload);
    assert.equal(result.header.kid, kid);
    assert.equal(signToken(fixture.payload, ring), fixture.token, JSON.stringify(fixture.payload));
  }
});

test('the pure-TS provider signs and verifies the same tokens', () => {
  const native = new KeyRing([{ key: A }]);
  const pure = new KeyRing([{ key: A }], { provider: pureCryptoProvider });
  const token = signToken({ user: 'admin' }, native);
  assert.equal(signToken({ user: 'admin' }, pure), token);
  assert.ok(verifyToken(token, pure, { now: NOW }).ok);
});

test('kid selects exactly one key', () => {
  const ring = new KeyRing([{ kid: 'a', key: A }, { kid: 'b', key: B }]);
  const byB = signToken({ user: 'admin' }, new KeyRing([{ kid: 'b', key: B }]));
  const result = verifyToken(byB, ring, { now: NOW });
  assert.ok(result.ok);
  assert.equal(result.header.kid, 'b');
  // kid "b" but made with a's key: only b's key is tried.
  assert.equal(reason(verifyToken(signToken({ user: 'admin' }, new KeyRing([{ kid: 'b', key: A }])), ring, { now: NOW })), 'signature');
  assert.equal(reason(verifyToken(signToken({}, new KeyRing([{ kid: 'c', key: A }])), ring, { now: NOW })), 'kid');
  assert.equal(reason(verifyToken(forge('{"alg":"HS256","kid":""}', '{}'), ring, { now: NOW })), 'kid');
  // A ring whose keys all have kids refuses kid-less tokens, even one made with its own key.
  assert.equal(reason(verifyToken(signToken({}, new KeyRing([{ key: A }])), ring, { now: NOW })), 'kid');
});

test('kid-less tokens are checked against the kid-less keys only, in a bounded way', () => {
  const ring = new KeyRing([{ kid: 'new', key: C }, { key: B }, { key: A }]);
  for (const secret of [A, B]) assert.ok(verifyToken(forge(KIDLESS_HEADER, '{"user":"admin"}', secret), ring, { now: NOW }).ok);
  assert.equal(reason(verifyToken(forge(KIDLESS_HEADER, '{}', C), ring, { now: NOW })), 'signature');
  assert.equal(reason(verifyToken(forge('{"alg":"HS256","kid":"new"}', '{}', A), ring, { now: NOW })), 'signature');
  const tooMany = Array.from({ length: MAX_KIDLESS_KEYS + 1 }, (_, i) => ({ key: key(10 + i) }));
  assert.throws(() => new KeyRing(tooMany), /at most 2 keys without a kid/);
});

test('rotation: old keys verify, only the first key ever signs (CVE-2025-47278)', () => {
  const before = new KeyRing([{ kid: '2024', key: A }]);
  const after = new KeyRing([{ kid: '2026', key: C }, { kid: '2025', key: B }, { kid: '2024', key: A }]);
  const oldToken = signToken({ user: 'admin' }, before);
  assert.ok(verifyToken(oldToken, after, { now: NOW }).ok);

  const newToken = signToken({ user: 'admin' }, after);
  const result = verifyToken(newToken, after, { now: NOW });
  assert.ok(result.ok);
  assert.equal(result.header.kid, '2026');
  assert.ok(verifyToken(newToken, new KeyRing([{ kid: '2026', key: C }]), { now: NOW }).ok);
  assert.equal(reason(verifyToken(newToken, new KeyRing([{ kid: '2026', key: A }]), { now: NOW })), 'signature');
  assert.equal(reason(verifyToken(newToken, new KeyRing([{ kid: '2024', key: A }]), { now: NOW })), 'kid');

  // The same without kids: the newest (first) key signs, the oldest never does.
  const kidless = new KeyRing([{ key: C }, { key: A }]);
  const token = signToken({ user: 'admin' }, kidless);
  assert.ok(verifyToken(token, new KeyRing([{ key: C }]), { now: NOW }).ok);
  assert.equal(reason(verifyToken(token, new KeyRing([{ key: A }]), { now: NOW })), 'signature');
  assert.ok(verifyToken(signToken({}, new KeyRing([{ key: A }])), kidless, { now: NOW }).ok);
});

test('key ring: refuses short keys (naming the 32-byte limit) and bad configurations', () => {
  assert.throws(() => new KeyRing([{ key: key(1, 31) }]), /31 bytes; HS256 keys must be at least 32 bytes/);
  assert.throws(() => new KeyRing([{ kid: 'k', key: new Uint8Array(0) }]), /JWT key "k" is 0 bytes.*at least 32 bytes/);
  assert.throws(() => new KeyRing([{ key: A }, { kid: 'old', key: key(2, 16) }]), /at least 32 bytes/);
  new KeyRing([{ key: key(1, 32) }]);
  assert.throws(() => new KeyRing([]), /at least one key/);
  assert.throws(() => new KeyRing([{ kid: 'a', key: A }, { kid: 'a', key: B }]), /duplicate JWT kid "a"/);
  assert.throws(() => new KeyRing([{ kid: '', key: A }]), /non-empty string/);
  assert.throws(() => new KeyRing([{ key: 'not bytes' as unknown as Uint8Array }]), /must be a Uint8Array/);
});

test('key ring: copies the key bytes', () => {
  const secret = key(4);
  const ring = new KeyRing([{ key: secret }]);
  const token = signToken({}, ring);
  secret.fill(0);
  assert.ok(verifyToken(token, ring, { now: NOW }).ok);
});

test('signToken: payload must be a JSON object', () => {
  const ring = new KeyRing([{ key: A }]);
  for (const payload of [[], null, 'x', 1]) assert.throws(() => signToken(payload as object, ring), TypeError);
});

test('rejects: length', () => {
  const ring = new KeyRing([{ key: A }]);
  const token = signToken({ user: 'admin' }, ring);
  assert.equal(reason(verifyToken(token, ring, { now: NOW, maxLength: token.length })), 'ok');
  assert.equal(reason(verifyToken(token, ring, { now: NOW, maxLength: token.length - 1 })), 'length');
  assert.equal(reason(verifyToken('a'.repeat(1025), ring)), 'length');
  assert.equal(reason(verifyToken(undefined as unknown as string, ring)), 'length');
  assert.equal(reason(verifyToken({ length: 3 } as unknown as string, ring)), 'length');
});

test('rejects a 10 KB token before any work, and accepts it only when allowed', () => {
  const ring = new KeyRing([{ key: A }]);
  const big = signToken({ blob: 'x'.repeat(7500) }, ring);
  assert.ok(big.length > 10_000);
  assert.equal(reason(verifyToken(big, ring, { now: NOW })), 'length');
  assert.equal(reason(verifyToken(big, ring, { now: NOW, maxLength: 20_000 })), 'ok');
});

test('rejects: format', () => {
  const ring = new KeyRing([{ key: A }]);
  const [h, p, s] = signToken({ user: 'admin' }, ring).split('.');
  const malformed = [
    '', '.', '..', 'abc', `${h}.${p}`, `${h}.${p}.${s}.`, `${h}.${p}.${s}.${s}`, `.${p}.${s}`, `${h}..${s}`, `${h}.${p}.`,
    `${h}=.${p}.${s}`, `${h}.${p}=.${s}`, `${h}.${p}.${s}=`, `${h}.${p} .${s}`, `${h}.${p}.${s}\n`, ` ${h}.${p}.${s}`,
    `${h}.${p}+.${s}`, `${h}.${p}.${s.replace(/_|-/g, '/')}x`, `${h}.${p}x.${s}`,
  ];
  for (const token of malformed) assert.equal(reason(verifyToken(token, ring, { now: NOW })), 'format', JSON.stringify(token));
  // Headers that are not a flat JSON object (checked before the MAC, so forging is not needed).
  for (const header of ['', 'null', '[]', '"HS256"', '42', '{"alg":"HS256"', '{"alg":"HS256","x":[[1]]}', '{"alg":"HS256","x":{"y":{}}}', '[[[[[[[[[[]]]]]]]]]]']) {
    assert.equal(reason(verifyToken(forge(header, '{}'), ring, { now: NOW })), 'format', header);
  }
});

test('rejects: alg (none, HS512, RS256, missing, wrong case), even correctly MACed', () => {
  const ring = new KeyRing([{ key: A }]);
  for (const header of [
    '{"alg":"none","typ":"JWT"}', '{"alg":"HS512","typ":"JWT"}', '{"alg":"RS256","typ":"JWT"}', '{"typ":"JWT"}',
    '{"alg":"hs256"}', '{"alg":"HS256 "}', '{"alg":null}', '{"alg":["HS256"]}', '{"alg":"HS256","alg":"none"}',
  ]) {
    assert.equal(reason(verifyToken(forge(header, '{"user":"admin"}'), ring, { now: NOW })), 'alg', header);
  }
  // The classic alg=none token, with an empty signature.
  const none = `${base64urlEncode(text('{"alg":"none","typ":"JWT"}'))}.${base64urlEncode(text('{"user":"admin"}'))}.`;
  assert.equal(reason(verifyToken(none, ring, { now: NOW })), 'format');
});

test('rejects: header (typ, crit, kid type); accepts typ absent', () => {
  const ring = new KeyRing([{ key: A }]);
  assert.equal(reason(verifyToken(forge('{"alg":"HS256"}', '{}'), ring, { now: NOW })), 'ok');
  for (const header of ['{"alg":"HS256","typ":"JWS"}', '{"alg":"HS256","typ":"jwt"}', '{"alg":"HS256","crit":["exp"]}', '{"alg":"HS256","kid":5}', '{"alg":"HS256","kid":null}']) {
    assert.equal(reason(verifyToken(forge(header, '{}'), ring, { now: NOW })), 'header', header);
  }
});

test('rejects: signature (wrong key, wrong length, flipped)', () => {
  const ring = new KeyRing([{ key: A }]);
  const token = signToken({ user: 'admin' }, ring);
  assert.equal(reason(verifyToken(token, new KeyRing([{ key: B }]), { now: NOW })), 'signature');
  const [h, p, s] = token.split('.');
  const mac = base64urlDecode(s) as Uint8Array;
  const longer = new Uint8Array(33);
  longer.set(mac);
  for (const signature of [mac.subarray(0, 31), longer, mac.subarray(0, 16), new Uint8Array(1), new Uint8Array(32)]) {
    assert.equal(reason(verifyToken(`${h}.${p}.${base64urlEncode(signature)}`, ring, { now: NOW })), 'signature', `${signature.length} bytes`);
  }
});

test('rejects: payload that is not a JSON object, or has non-numeric exp/nbf', () => {
  const ring = new KeyRing([{ key: A }]);
  for (const payload of ['[]', '[{"user":"admin"}]', '"admin"', '42', 'null', 'true', ' ', '{"user":', '{"exp":"soon"}', '{"nbf":null}', '{"exp":[1]}']) {
    assert.equal(reason(verifyToken(forge(KIDLESS_HEADER, payload), ring, { now: NOW })), 'payload', payload);
  }
});

test('exp and nbf, with the leeway edges (PyJWT\'s rules)', () => {
  const ring = new KeyRing([{ key: A }]);
  const expiring = signToken({ exp: 1000 }, ring);
  assert.equal(reason(verifyToken(expiring, ring, { now: 999 })), 'ok');
  assert.equal(reason(verifyToken(expiring, ring, { now: 1004.999 })), 'ok');
  assert.equal(reason(verifyToken(expiring, ring, { now: 1005 })), 'expired');
  assert.equal(reason(verifyToken(expiring, ring, { now: 1000, leeway: 0 })), 'expired');
  assert.equal(reason(verifyToken(expiring, ring, { now: 999.5, leeway: 0 })), 'ok');
  assert.equal(reason(verifyToken(expiring, ring, { now: 1059, leeway: 60 })), 'ok');

  const later = signToken({ nbf: 1000 }, ring);
  assert.equal(reason(verifyToken(later, ring, { now: 995 })), 'ok');
  assert.equal(reason(verifyToken(later, ring, { now: 994.999 })), 'not-yet-valid');
  assert.equal(reason(verifyToken(later, ring, { now: 999.999, leeway: 0 })), 'not-yet-valid');
  assert.equal(reason(verifyToken(later, ring, { now: 1000, leeway: 0 })), 'ok');

  const real = runtime().now() / 1000;
  assert.equal(reason(verifyToken(signToken({ exp: real + 60, nbf: real - 60 }, ring), ring)), 'ok');
  assert.equal(reason(verifyToken(signToken({ exp: real - 60 }, ring), ring)), 'expired');
  assert.equal(reason(verifyToken(signToken({ nbf: real + 60 }, ring), ring)), 'not-yet-valid');
});

/** The pure-TS provider with a native-style HMAC that counts its calls. */
function countingProvider(): CryptoProvider & { macs: number } {
  const provider = {
    name: 'counting',
    macs: 0,
    createSha256: pureCryptoProvider.createSha256,
    hmacSha256(secret: Uint8Array, data: Uint8Array): Uint8Array {
      provider.macs++;
      return hmacSha256(secret, data, pureCryptoProvider);
    },
  };
  return provider;
}

test('verified-token cache: a token sent again skips its HMAC, and only that exact token', () => {
  const provider = countingProvider();
  const ring = new KeyRing([{ key: A }], { provider });
  const token = signToken({ user: 'alice', exp: NOW + 60 }, ring);
  // The token's signature on another header or payload, each sent again and again: refused every time,
  // before and after the genuine token is remembered (a refused token must never be remembered).
  const [h, p, s] = token.split('.');
  const admin = base64urlEncode(text(`{"user":"admin","exp":${NOW + 60}}`));
  const pyjwtHeader = base64urlEncode(text(PYJWT_HEADER));
  const forgeries = [`${h}.${admin}.${s}`, `${pyjwtHeader}.${p}.${s}`, forge(KIDLESS_HEADER, `{"user":"admin","exp":${NOW + 60}}`, B)];
  const refuseAll = () => {
    for (const forged of forgeries) {
      for (let i = 0; i < 3; i++) assert.equal(reason(verifyToken(forged, ring, { now: NOW })), 'signature', `${forged}, try ${i + 1}`);
    }
  };
  refuseAll();
  const macs = provider.macs;
  assert.equal(reason(verifyToken(token, ring, { now: NOW })), 'ok');
  assert.equal(provider.macs, macs + 1);
  for (let i = 0; i < 3; i++) assert.deepEqual(verifyToken(token, ring, { now: NOW }), { ok: true, header: { alg: 'HS256' }, payload: { user: 'alice', exp: NOW + 60 } });
  assert.equal(provider.macs, macs + 1, 'remembered: no HMAC');
  refuseAll();
  assert.equal(reason(verifyToken(token, ring, { now: NOW })), 'ok', 'still remembered after the forgeries');
  assert.equal(provider.macs, macs + 1 + forgeries.length * 3, 'each forgery was computed, and refused');
  // Another ring with the same key remembers nothing of this one's tokens.
  const other = new KeyRing([{ key: A }], { provider });
  const before = provider.macs;
  assert.equal(reason(verifyToken(token, other, { now: NOW })), 'ok');
  assert.equal(provider.macs, before + 1);
});

test('verified-token cache: expiry is still checked, and refused tokens are not remembered', () => {
  const provider = countingProvider();
  const ring = new KeyRing([{ key: A }], { provider });
  const token = signToken({ exp: NOW + 60 }, ring);
  assert.equal(reason(verifyToken(token, ring, { now: NOW })), 'ok');
  assert.equal(reason(verifyToken(token, ring, { now: NOW + 65 })), 'expired');
  const expired = signToken({ exp: NOW - 60 }, ring);
  const before = provider.macs;
  assert.equal(reason(verifyToken(expired, ring, { now: NOW })), 'expired');
  assert.equal(reason(verifyToken(expired, ring, { now: NOW })), 'expired');
  assert.equal(provider.macs, before + 2, 'an expired token is MACed each time: never remembered');
  // Nor when the caller judges expiry itself (Session): an old cookie sent again must not churn the cache.
  const beforeOwn = provider.macs;
  assert.equal(reason(verifyToken(expired, ring, { now: NOW, verifyExp: false })), 'ok');
  assert.equal(reason(verifyToken(expired, ring, { now: NOW, verifyExp: false })), 'ok');
  assert.equal(provider.macs, beforeOwn + 2);
  const notYet = signToken({ nbf: NOW + 60 }, ring);
  assert.equal(reason(verifyToken(notYet, ring, { now: NOW })), 'not-yet-valid');
  assert.equal(reason(verifyToken(notYet, ring, { now: NOW + 60 })), 'ok');
});

test('verified-token cache: bounded by cacheSize, oldest forgotten first; 0 remembers none', () => {
  const provider = countingProvider();
  const ring = new KeyRing([{ key: A }], { provider, cacheSize: 2 });
  const tokens = [1, 2, 3].map((n) => signToken({ n }, ring));
  const macsFor = (token: string): number => {
    const before = provider.macs;
    assert.equal(reason(verifyToken(token, ring, { now: NOW })), 'ok');
    return provider.macs - before;
  };
  assert.deepEqual(tokens.map(macsFor), [1, 1, 1]);
  assert.deepEqual([tokens[1], tokens[2]].map(macsFor), [0, 0]);
  assert.equal(macsFor(tokens[0]), 1, 'the oldest was forgotten');
  assert.equal(macsFor(tokens[1]), 1, 'and remembering it forgot the next oldest');
  assert.equal(macsFor(tokens[2]), 1);

  const none = new KeyRing([{ key: A }], { provider, cacheSize: 0 });
  const token = signToken({ n: 0 }, none);
  const before = provider.macs;
  for (let i = 0; i < 3; i++) assert.equal(reason(verifyToken(token, none, { now: NOW })), 'ok');
  assert.equal(provider.macs, before + 3);

  assert.equal(DEFAULT_CACHE_SIZE, 4);
  for (const cacheSize of [-1, MAX_CACHE_SIZE + 1, 1.5, Number.NaN]) {
    assert.throws(() => new KeyRing([{ key: A }], { cacheSize }), (error: Error) => error instanceof RangeError && /cacheSize must be an integer from 0 to 32/.test(error.message), String(cacheSize));
  }
  assert.doesNotThrow(() => new KeyRing([{ key: A }], { cacheSize: MAX_CACHE_SIZE }));
});

test('tamper: every single-bit flip of every character is rejected', () => {
  const ring = new KeyRing([{ kid: 'k1', key: A }, { key: B }]);
  const token = signToken({ user: 'admin', exp: NOW + 3600 }, ring);
  assert.ok(verifyToken(token, ring, { now: NOW }).ok);
  let flips = 0;
  for (let i = 0; i < token.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const flipped = token.slice(0, i) + String.fromCharCode(token.charCodeAt(i) ^ (1 << bit)) + token.slice(i + 1);
      const result = verifyToken(flipped, ring, { now: NOW });
      assert.equal(result.ok, false, `char ${i}, bit ${bit}: ${flipped}`);
      flips++;
    }
  }
  assert.equal(flips, token.length * 8);
});

test('tamper: swapped, truncated and spliced tokens are rejected', () => {
  const ring = new KeyRing([{ key: A }]);
  const token = signToken({ user: 'admin' }, ring);
  const [h, p, s] = token.split('.');
  for (const swapped of [`${p}.${h}.${s}`, `${s}.${p}.${h}`, `${h}.${s}.${p}`, `${h}.${h}.${s}`, `${p}.${p}.${s}`]) {
    assert.equal(verifyToken(swapped, ring, { now: NOW }).ok, false, swapped);
  }
  for (let length = 0; length < token.length; length++) {
    assert.equal(verifyToken(token.slice(0, length), ring, { now: NOW }).ok, false, `first ${length} chars`);
  }
  // Another token's signature, another token's payload.
  const [, p2, s2] = signToken({ user: 'guest' }, ring).split('.');
  assert.equal(reason(verifyToken(`${h}.${p}.${s2}`, ring, { now: NOW })), 'signature');
  assert.equal(reason(verifyToken(`${h}.${p2}.${s}`, ring, { now: NOW })), 'signature');
});

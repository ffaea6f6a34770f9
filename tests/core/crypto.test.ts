import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runtime, type CryptoProvider, type Sha256 } from '../../modules/runtime';
import { PureSha256, pureCryptoProvider } from '../../modules/crypto/sha256';
import { HmacSha256Key, hmacSha256 } from '../../modules/crypto/hmac';
import { base64urlDecode, base64urlDecodeInto, base64urlEncode } from '../../modules/crypto/base64url';
import { constantTimeEqual } from '../../modules/crypto/compare';

const text = (value: string): Uint8Array => runtime().utf8Encode(value);

function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i] + 0x100).toString(16).slice(1);
  return out;
}

function fromHex(value: string): Uint8Array {
  const bytes = new Uint8Array(value.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(value.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** `length` bytes (i * 7 + 3) & 0xff, matching the Python that made the expected digests below. */
function pattern(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + 3) & 0xff;
  return bytes;
}

function sha256(provider: CryptoProvider, ...chunks: Uint8Array[]): string {
  const hash = provider.createSha256();
  for (const chunk of chunks) hash.update(chunk);
  return hex(hash.digest());
}

/** The pure provider and the host's own (node:crypto on Node; on bare XS the host's is the pure one). */
const digestProviders: CryptoProvider[] =
  runtime().crypto === pureCryptoProvider ? [pureCryptoProvider] : [pureCryptoProvider, runtime().crypto];

/** A SHA-256 that is not PureSha256 but can be reset, as the SDK's Digest: HMAC keeps one per key. */
class ResettableSha256 implements Sha256 {
  #hash = new PureSha256();
  update(data: Uint8Array): void { this.#hash.update(data); }
  digest(): Uint8Array { return this.#hash.digest(); }
  reset(): void { this.#hash = new PureSha256(); }
}

/**
 * For HMAC, also the host's SHA-256 without its native HMAC, so the RFC 2104 construction runs on it,
 * and a resettable digest (the reuse path a device takes).
 */
const hmacProviders: CryptoProvider[] = [
  ...digestProviders,
  { name: 'resettable digest', createSha256: () => new ResettableSha256() },
  ...(runtime().crypto.hmacSha256 === undefined
    ? []
    : [{ name: `${runtime().crypto.name} digest only`, createSha256: () => runtime().crypto.createSha256() }]),
];

const FIPS_VECTORS: [string, string][] = [
  ['', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'],
  ['abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq', '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'],
  [
    'abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu',
    'cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1',
  ],
];

/** SHA-256 of pattern(n), from Python's hashlib: lengths around the padding boundaries. */
const BOUNDARY_VECTORS: [number, string][] = [
  [55, 'e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b'],
  [56, '4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27'],
  [57, '35df609437dcfea3279283ab79fd554e2bf78f8f7ae2de532d8ee300b09e8f73'],
  [63, '81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055'],
  [64, '39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241'],
  [65, 'aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e'],
  [119, '9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e'],
  [120, '7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5'],
  [128, 'd2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6'],
  [1000, '1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371'],
];

for (const provider of digestProviders) {
  test(`SHA-256 (${provider.name}): FIPS 180-4 examples`, () => {
    for (const [message, expected] of FIPS_VECTORS) assert.equal(sha256(provider, text(message)), expected, JSON.stringify(message));
  });

  test(`SHA-256 (${provider.name}): one million "a" (1 MB)`, () => {
    const million = new Uint8Array(1_000_000).fill(0x61);
    assert.equal(sha256(provider, million), 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');
  });

  test(`SHA-256 (${provider.name}): lengths around the padding boundaries`, () => {
    for (const [length, expected] of BOUNDARY_VECTORS) assert.equal(sha256(provider, pattern(length)), expected, `length ${length}`);
  });

  test(`SHA-256 (${provider.name}): streaming in odd chunk sizes equals one-shot`, () => {
    const message = pattern(1000);
    const expected = BOUNDARY_VECTORS[BOUNDARY_VECTORS.length - 1][1];
    for (const sizes of [[1], [3, 7], [63, 1, 64, 65], [0, 5, 0, 127], [200, 999]]) {
      const chunks: Uint8Array[] = [];
      for (let pos = 0, i = 0; pos < message.length; i++) {
        const end = Math.min(message.length, pos + sizes[i % sizes.length]);
        chunks.push(message.subarray(pos, end));
        pos = end;
      }
      assert.equal(sha256(provider, ...chunks), expected, `chunk sizes ${sizes.join(',')}`);
    }
  });
}

test('PureSha256: refuses use after digest()', () => {
  const hash = new PureSha256();
  hash.update(text('abc'));
  hash.digest();
  assert.throws(() => hash.digest(), /digest\(\) called twice/);
  assert.throws(() => hash.update(text('x')), /update\(\) after digest\(\)/);
});

test('PureSha256: reset() starts a new message, after the whole-block prefix markStart() recorded', () => {
  const hash = new PureSha256();
  hash.update(text('abc'));
  hash.digest();
  hash.reset();
  hash.update(text('abc'));
  assert.equal(hex(hash.digest()), FIPS_VECTORS[1][1]);
  const prefix = pattern(128);
  hash.reset();
  hash.update(prefix);
  hash.markStart();
  for (const length of [0, 55, 64, 1000]) {
    hash.reset();
    hash.update(pattern(length));
    const whole = new Uint8Array(128 + length);
    whole.set(prefix);
    whole.set(pattern(length), 128);
    assert.equal(hex(hash.digest()), sha256(pureCryptoProvider, whole), `prefix + ${length} bytes`);
  }
  hash.reset();
  hash.update(text('x'));
  assert.throws(() => hash.markStart(), /whole blocks/);
});

const LONG_KEY = new Uint8Array(131).fill(0xaa);

/** RFC 4231 §4.2–4.8: key, data, HMAC-SHA256 (case 5 is truncated to 128 bits). */
const RFC4231: [string, Uint8Array, Uint8Array, string][] = [
  ['1', new Uint8Array(20).fill(0x0b), text('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
  ['2', text('Jefe'), text('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
  ['3', new Uint8Array(20).fill(0xaa), new Uint8Array(50).fill(0xdd), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
  [
    '4', fromHex('0102030405060708090a0b0c0d0e0f10111213141516171819'), new Uint8Array(50).fill(0xcd),
    '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
  ],
  ['5', new Uint8Array(20).fill(0x0c), text('Test With Truncation'), 'a3b6167473100ee06e0c796c2955552b'],
  ['6', LONG_KEY, text('Test Using Larger Than Block-Size Key - Hash Key First'), '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
  [
    '7', LONG_KEY,
    text('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
    '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
  ],
];

for (const provider of hmacProviders) {
  test(`HMAC-SHA256 (${provider.name}): RFC 4231 test cases 1-7`, () => {
    for (const [name, key, data, expected] of RFC4231) {
      const mac = hex(hmacSha256(key, data, provider));
      assert.equal(mac.slice(0, expected.length), expected, `case ${name}`);
      assert.equal(mac.length, 64, `case ${name}: 32 bytes`);
    }
  });

  test(`HmacSha256Key (${provider.name}): one key, many messages`, () => {
    for (const [name, key, data, expected] of RFC4231) {
      const prepared = new HmacSha256Key(key, provider);
      for (let round = 0; round < 3; round++) assert.equal(hex(prepared.sign(data)).slice(0, expected.length), expected, `case ${name}, round ${round}`);
    }
  });
}

test('hmacSha256: defaults to runtime().crypto', () => {
  const [, key, data, expected] = RFC4231[1];
  assert.equal(hex(hmacSha256(key, data)), expected);
  assert.equal(hex(new HmacSha256Key(key).sign(data)), expected);
});

test('base64url: RFC 4648 examples, unpadded', () => {
  const examples: [string, string][] = [
    ['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy'],
  ];
  for (const [plain, encoded] of examples) {
    assert.equal(base64urlEncode(text(plain)), encoded);
    assert.deepEqual(base64urlDecode(encoded), text(plain));
  }
});

test('base64url: uses - and _ (not + and /)', () => {
  assert.equal(base64urlEncode(new Uint8Array([0xfb, 0xef, 0xbe])), '----');
  assert.equal(base64urlEncode(new Uint8Array([0xff, 0xff, 0xff])), '____');
  assert.equal(base64urlEncode(new Uint8Array([0xfb, 0xff])), '-_8');
  assert.deepEqual(base64urlDecode('-_8'), new Uint8Array([0xfb, 0xff]));
});

test('base64url: round trips every byte value and every length up to 70', () => {
  const all = new Uint8Array(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  assert.deepEqual(base64urlDecode(base64urlEncode(all)), all);
  for (let length = 0; length <= 70; length++) {
    const bytes = pattern(length);
    const encoded = base64urlEncode(bytes);
    assert.equal(encoded.length, Math.ceil((length * 4) / 3));
    assert.deepEqual(base64urlDecode(encoded), bytes, `length ${length}`);
  }
});

test('base64url: decodes a range of a string without copying it', () => {
  assert.deepEqual(base64urlDecode('..Zm9v..', 2, 6), text('foo'));
  assert.deepEqual(base64urlDecode('a.Zm8', 2), text('fo'));
  assert.equal(base64urlDecode('Zm9v', 4, 2), undefined);
});

test('base64url: rejects padding, the standard alphabet, whitespace and other characters', () => {
  const rejected = [
    'Zg==', 'Zg=', 'Zm8=', 'Zm9v+', 'Zm+v', 'Zm/v', ' Zm9v', 'Zm9v ', 'Zm9v\n', 'Zm\t9v', 'Zm 9v', 'Zm9.', 'Zm9v!',
    'Zm9\u00e9', 'Zm9\u0000', 'Zm9\ud83d', '\uff3amm9',
  ];
  for (const value of rejected) assert.equal(base64urlDecode(value), undefined, JSON.stringify(value));
});

test('base64url: rejects impossible lengths (length % 4 == 1)', () => {
  for (const value of ['Z', 'Zm9vY', 'Zm9vYmFyZ', 'AAAAA']) assert.equal(base64urlDecode(value), undefined, value);
});

test('base64url: accepts exactly the canonical spelling of each tail (unused bits must be zero)', () => {
  assert.equal(base64urlDecode('Zh'), undefined);
  assert.equal(base64urlDecode('Zm9'), undefined);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let twoChar = 0;
  let threeChar = 0;
  for (const a of alphabet) {
    for (const b of alphabet) {
      const decoded = base64urlDecode(a + b);
      if (decoded === undefined) continue;
      twoChar++;
      assert.equal(base64urlEncode(decoded), a + b);
    }
    const decoded = base64urlDecode(`Zm${a}`);
    if (decoded === undefined) continue;
    threeChar++;
    assert.equal(base64urlEncode(decoded), `Zm${a}`);
  }
  assert.equal(twoChar, 256, 'one 2-char spelling per byte value');
  assert.equal(threeChar, 16, 'one last char per value of the second byte\'s low 4 bits');
});

test('base64urlDecodeInto: what base64urlDecode accepts, written in place; -1 for the rest and for no room', () => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const samples = ['', 'Zg', 'Zm8', 'Zm9v', 'Zh', 'Zm9', 'Z', 'Zm9v=', 'Zg==', 'Zm+v', 'Zm/v', 'Zm 9', 'Zm9v ', '\tZm9v', 'x\u00e9', 'eyJhbGciOiJIUzI1NiJ9'];
  for (const a of alphabet) samples.push(`Zm${a}`, `Z${a}`);
  for (const sample of samples) {
    const decoded = base64urlDecode(sample);
    const out = new Uint8Array(16);
    const written = base64urlDecodeInto(sample, 0, sample.length, out);
    assert.equal(written, decoded === undefined ? -1 : decoded.length, JSON.stringify(sample));
    if (decoded !== undefined) assert.deepEqual(out.subarray(0, written), decoded);
  }
  const out = new Uint8Array(3);
  assert.equal(base64urlDecodeInto('..Zm9v..', 2, 6, out), 3);
  assert.deepEqual([...out], [102, 111, 111]);
  assert.equal(base64urlDecodeInto('..Zm9v..', 1, 6, out), -1);
  assert.equal(base64urlDecodeInto('Zm9vYg', 0, 6, out), -1, 'no room for the fourth byte');
});

test('constantTimeEqual: equal only for the same bytes and length', () => {
  const a = pattern(32);
  assert.equal(constantTimeEqual(a, pattern(32)), true);
  assert.equal(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)), true);
  for (const index of [0, 1, 15, 31]) {
    for (const bit of [0x01, 0x80]) {
      const b = pattern(32);
      b[index] ^= bit;
      assert.equal(constantTimeEqual(a, b), false, `byte ${index}, bit ${bit}`);
    }
  }
  assert.equal(constantTimeEqual(a, pattern(31)), false);
  assert.equal(constantTimeEqual(pattern(31), a), false);
  assert.equal(constantTimeEqual(a, new Uint8Array(0)), false);
});

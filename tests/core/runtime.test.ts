import '../support/install-host';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runtime } from '../../modules/runtime';

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const sleep = (ms: number) => new Promise<void>((resolve) => runtime().setTimer(resolve, ms));

describe('runtime: UTF-8', () => {
  it('round-trips text, including characters outside the BMP', () => {
    const text = 'plain ASCII, é ß € 中文, 𝄞 😀 \u{10FFFF}, NUL\u0000 and \uFFFF';
    const bytes = runtime().utf8Encode(text);
    assert.ok(bytes instanceof Uint8Array);
    assert.equal(runtime().utf8Decode(bytes), text);
    assert.equal(hex(runtime().utf8Encode('😀')), 'f09f9880');
    assert.equal(hex(runtime().utf8Encode('é€')), 'c3a9e282ac');
  });

  it('decodes only the bytes of a subarray', () => {
    const bytes = runtime().utf8Encode('xx😀yy');
    assert.equal(runtime().utf8Decode(bytes.subarray(2, 6)), '😀');
  });

  it('encodes lone surrogates as U+FFFD', () => {
    assert.equal(hex(runtime().utf8Encode('a\uD800b')), '61efbfbd62');
    assert.equal(hex(runtime().utf8Encode('\uDC00')), 'efbfbd');
    assert.equal(hex(runtime().utf8Encode('\uD83D\uDE00')), 'f09f9880'); // a pair stays one character
  });

  it('decodes malformed sequences to U+FFFD exactly as the WHATWG decoder does', () => {
    const cases: [number[], string][] = [
      [[0x61, 0xff, 0x62], 'a\uFFFDb'], // invalid byte
      [[0x80], '\uFFFD'], // lone continuation byte
      [[0xc0, 0x80], '\uFFFD\uFFFD'], // overlong NUL
      [[0xe0, 0x80, 0x80], '\uFFFD\uFFFD\uFFFD'], // overlong
      [[0xed, 0xa0, 0x80], '\uFFFD\uFFFD\uFFFD'], // encoded surrogate (CESU-8)
      [[0xf4, 0x90, 0x80, 0x80], '\uFFFD\uFFFD\uFFFD\uFFFD'], // above U+10FFFF
      [[0xf0, 0x9f, 0x98], '\uFFFD'], // truncated at the end
      [[0x61, 0xf0, 0x90, 0x80, 0x62], 'a\uFFFDb'], // truncated in the middle
      [[0xe2, 0x82, 0x61], '\uFFFDa'],
    ];
    for (const [bytes, expected] of cases) {
      assert.equal(runtime().utf8Decode(new Uint8Array(bytes)), expected, `decoding ${hex(new Uint8Array(bytes))}`);
    }
  });
});

describe('runtime: randomness', () => {
  it('returns the requested number of bytes, different on every draw', () => {
    const a = runtime().randomBytes(32);
    const b = runtime().randomBytes(32);
    assert.ok(a instanceof Uint8Array);
    assert.equal(a.length, 32);
    assert.equal(runtime().randomBytes(0).length, 0);
    assert.equal(runtime().randomBytes(5).length, 5);
    assert.notDeepStrictEqual(a, b);
  });
});

describe('runtime: timers and clocks', () => {
  it('fires timers in due order, equal delays in the order they were set', async () => {
    const fired: string[] = [];
    await new Promise<void>((resolve) => {
      runtime().setTimer(() => { fired.push('last'); resolve(); }, 40);
      runtime().setTimer(() => fired.push('20 ms'), 20);
      runtime().setTimer(() => fired.push('5 ms, first'), 5);
      runtime().setTimer(() => fired.push('5 ms, second'), 5);
    });
    assert.deepEqual(fired, ['5 ms, first', '5 ms, second', '20 ms', 'last']);
  });

  it('clearTimeout cancels a pending timer', async () => {
    let fired = false;
    const id = runtime().setTimer(() => { fired = true; }, 5);
    runtime().clearTimer(id);
    await sleep(20);
    assert.equal(fired, false);
  });

  it('monotonic() never goes backwards and counts time spent waiting for timers', async () => {
    let previous = runtime().monotonic();
    for (let i = 0; i < 1000; i++) {
      const now = runtime().monotonic();
      assert.ok(now >= previous, `monotonic went from ${previous} to ${now}`);
      previous = now;
    }
    const before = runtime().monotonic();
    const wallBefore = runtime().now();
    await sleep(50);
    // Node's timers may fire up to a millisecond early by this clock.
    assert.ok(runtime().monotonic() - before >= 49, `only ${runtime().monotonic() - before} ms passed`);
    assert.ok(runtime().now() - wallBefore >= 49);
  });

  it('has a plausible wall clock', () => {
    assert.ok(runtime().now() > Date.UTC(2024, 0, 1));
    assert.equal(typeof runtime().wallClockTrusted(), 'boolean');
  });
});

describe('runtime: crypto and store', () => {
  it('computes SHA-256 with the host provider', () => {
    const sha = runtime().crypto.createSha256();
    sha.update(runtime().utf8Encode('ab'));
    sha.update(runtime().utf8Encode('c'));
    assert.equal(hex(sha.digest()), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('stores, reads and deletes values', () => {
    const { store } = runtime();
    assert.equal(store.get('runtime-test'), undefined);
    store.set('runtime-test', 'v');
    assert.equal(store.get('runtime-test'), 'v');
    store.delete('runtime-test');
    assert.equal(store.get('runtime-test'), undefined);
  });
});

/**
 * Self-test and micro-benchmark of the Moddable runtime (hosts/moddable/runtime.ts) on the x-cli-lin
 * executable: known answers for SHA-256 and HMAC-SHA256 through the SDK's native Digest, UTF-8 edge
 * cases, Latin-1 heads, base64url through the engine's own base64, the CSPRNG, the Preference store's
 * NVS limits, fault injection through that store (faults.ts), then timings. Prints a report and returns
 * the number of failed checks (the executable's exit status). `npm run test:moddable` runs it first.
 */
import { installRuntime, runtime } from '../../../modules/runtime';
import { HmacSha256Key, hmacSha256 } from '../../../modules/crypto/hmac';
import { base64urlDecode, base64urlDecodeInto, base64urlEncode } from '../../../modules/crypto/base64url';
import { latin1 } from '../../../modules/http/bytes';
import { DEFAULT_ITERATIONS, pbkdf2Sha256 } from '../../../modules/auth/password';
import { createModdableRuntime, PreferenceStore, MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../runtime';
import { NativeHMAC } from './hmac';
import { faultInjection } from './faults';

let failures = 0;

function hex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return out;
}

function check(what: string, ok: boolean, detail = ''): void {
  if (!ok) failures++;
  trace(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}\n`);
}

function throws(run: () => unknown): boolean {
  try {
    run();
    return false;
  } catch {
    return true;
  }
}

/** Microseconds per call of `run`, over `count` calls. */
function time(count: number, run: () => unknown): number {
  const host = runtime();
  const start = host.monotonic();
  for (let i = 0; i < count; i++) run();
  return ((host.monotonic() - start) * 1000) / count;
}

export default function main(): number {
  const store = new PreferenceStore('xsdot-selftest');
  installRuntime(createModdableRuntime({ name: 'moddable-selftest', store }));
  const host = runtime();
  const text = (s: string) => host.utf8Encode(s);

  const sha = host.crypto.createSha256();
  sha.update(text('abc'));
  check('SHA-256("abc")', hex(sha.digest()) === 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  const empty = host.crypto.createSha256();
  check('SHA-256("")', hex(empty.digest()) === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  // A million "a", fed 4 KB at a time (the device heap has no room for a megabyte), the last piece a subarray.
  const split = host.crypto.createSha256();
  const block = new Uint8Array(4096).fill(0x61);
  for (let i = 0; i < 244; i++) split.update(block);
  split.update(block.subarray(100, 676));
  check('SHA-256 of a million "a", fed as subarrays', hex(split.digest()) === 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0');

  const fox = hex(hmacSha256(text('key'), text('The quick brown fox jumps over the lazy dog')));
  check('HMAC-SHA256("key", fox)', fox === 'f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8', fox);
  const jefe = hex(new HmacSha256Key(text('Jefe')).sign(text('what do ya want for nothing?')));
  check('HMAC-SHA256 RFC 4231 case 2', jefe === '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  const longKey = hex(hmacSha256(new Uint8Array(131).fill(0xaa), text('Test Using Larger Than Block-Size Key - Hash Key First')));
  check('HMAC-SHA256 RFC 4231 case 6 (131-byte key)', longKey === '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54');
  const native = new NativeHMAC('SHA256', text('key').slice().buffer as ArrayBuffer);
  native.write(text('The quick brown fox jumps over the lazy dog').slice().buffer as ArrayBuffer);
  check('the SDK\'s unexported native HMAC agrees', hex(new Uint8Array(native.close())) === fox);
  const pbkdf2 = hex(pbkdf2Sha256(text('password'), text('salt'), 2, 32));
  check('PBKDF2-HMAC-SHA256 (password, salt, 2)', pbkdf2 === 'ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43', pbkdf2);

  const snow = host.utf8Decode(text('Zoë ☃ 😀'));
  check('UTF-8 round trip', snow === 'Zoë ☃ 😀');
  check('UTF-8: a lone surrogate encodes as U+FFFD', hex(text('a\ud800b')) === '61efbfbd62', hex(text('a\ud800b')));
  check('UTF-8: malformed bytes decode as U+FFFD', host.utf8Decode(new Uint8Array([0x61, 0xff, 0x62, 0xc3])) === 'a\ufffdb\ufffd');
  // Latin-1 heads (bytes.ts): ASCII through the native UTF-8 decoder, anything else byte by byte.
  check('Latin-1: ASCII, and bytes of 0x80 or more one character each', latin1(new Uint8Array([0x48, 0x69])) === 'Hi'
    && latin1(new Uint8Array([0x48, 0xe9, 0xef, 0xbf, 0xbd, 0x00])) === 'H\u00e9\u00ef\u00bf\u00bd\u0000');
  // The engine's own base64 (base64url.ts takes it here): exactly as strict as the loops Node and xsnap run.
  const decodes: [string, number][] = [['', 0], ['Zg', 1], ['Zm8', 2], ['Zm9v', 3], ['-_8', 2], ['Z', -1], ['Zh', -1], ['Zm9', -1],
    ['Zm9v=', -1], ['Zg==', -1], ['Zm+v', -1], ['Zm/v', -1], ['Zm 9', -1], ['Zm9v ', -1], ['\tZm9v', -1], ['x\u00e9', -1]];
  const wrong = decodes.filter(([sample, length]) => base64urlDecodeInto(sample, 0, sample.length, new Uint8Array(4)) !== length || (base64urlDecode(sample)?.length ?? -1) !== length);
  check('base64url: canonical text only', wrong.length === 0, wrong.map(([sample]) => JSON.stringify(sample)).join(' '));
  check('base64url: encode', base64urlEncode(new Uint8Array([0xfb, 0xff])) === '-_8' && base64urlEncode(new Uint8Array([102, 111, 111, 98])) === 'Zm9vYg');

  const a = host.randomBytes(32);
  const b = host.randomBytes(32);
  check('randomBytes: 32 bytes, two draws differ', a.length === 32 && hex(a) !== hex(b));
  let ones = 0;
  const many = host.randomBytes(4096);
  for (let i = 0; i < many.length; i++) for (let v = many[i]; v; v >>= 1) ones += v & 1;
  check('randomBytes: about half the bits set', ones > 15_800 && ones < 16_968, `${ones} of 32768`);

  store.set('k', 'v1');
  check('store: set/get', store.get('k') === 'v1');
  store.delete('k');
  check('store: delete', store.get('k') === undefined);
  check(`store: a key over ${MAX_KEY_BYTES} bytes is refused`, throws(() => store.set('x'.repeat(MAX_KEY_BYTES + 1), 'v')));
  check(`store: a value over ${MAX_VALUE_BYTES} bytes is refused`, throws(() => store.set('k', 'x'.repeat(MAX_VALUE_BYTES + 1))));
  check('store: a value of exactly the limit is kept', (store.set('k', 'y'.repeat(MAX_VALUE_BYTES)), store.get('k')?.length === MAX_VALUE_BYTES));
  for (const key of store.keys()) store.delete(key);

  faultInjection(host, check);

  check('clock: monotonic counts up', host.monotonic() >= 0);
  check('clock: wall clock trusted (the host OS has the time)', host.wallClockTrusted());
  check('freeMemory is a byte count', typeof host.freeMemory?.() === 'number');

  const key = new HmacSha256Key(host.randomBytes(32));
  const message = host.randomBytes(32);
  const keyBuffer = host.randomBytes(32).buffer as ArrayBuffer;
  const messageBuffer = message.slice().buffer as ArrayBuffer;
  const viaDigest = time(5000, () => key.sign(message));
  const viaNative = time(5000, () => {
    const h = new NativeHMAC('SHA256', keyBuffer);
    h.write(messageBuffer);
    return h.close();
  });
  const pbkdf2Ms = time(3, () => pbkdf2Sha256(text('correct horse battery'), message.subarray(0, 16), DEFAULT_ITERATIONS)) / 1000;
  const shaBytes = time(20, () => {
    const h = host.crypto.createSha256();
    for (let i = 0; i < 16; i++) h.update(block);
    return h.digest();
  });
  trace(`time HMAC-SHA256 of 32 bytes via Digest (HmacSha256Key): ${viaDigest.toFixed(1)} µs\n`);
  trace(`time HMAC-SHA256 of 32 bytes via the SDK's native HMAC: ${viaNative.toFixed(1)} µs\n`);
  trace(`time PBKDF2-HMAC-SHA256, ${DEFAULT_ITERATIONS} iterations (a login): ${pbkdf2Ms.toFixed(0)} ms\n`);
  trace(`time SHA-256 of 64 KB: ${(shaBytes / 1000).toFixed(2)} ms (${(65536 / shaBytes).toFixed(0)} MB/s)\n`);
  trace(`free memory after the self-test: ${host.freeMemory?.()} bytes\n`);
  trace(`${failures === 0 ? 'self-test passed' : `self-test FAILED: ${failures} check(s)`}\n`);
  return failures;
}

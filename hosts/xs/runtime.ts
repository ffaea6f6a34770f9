/**
 * The runtime for bare XS inside xsnap-worker (the engine from @agoric/xsnap), used to run the
 * portable tests on the real engine. Runs inside XS: no Node modules or globals here.
 */
import type { KeyValueStore, LogLevel, Runtime } from '../../modules/runtime';
import { pureCryptoProvider } from '../../modules/crypto/sha256';
import { clearTimer, monotonic, setTimer, wallClock } from './timers';
import { utf8Decode, utf8Encode } from './utf8';

export interface XsRuntimeOptions {
  /**
   * Hex of cryptographically secure random bytes from outside the engine (run-tests.ts draws them
   * from node:crypto). XS's Math.random is an unseeded rand(): it must never produce secrets.
   */
  entropyHex?: string;
  /** Where log lines go; defaults to print(). */
  log?: (level: LogLevel, message: string) => void;
  store?: KeyValueStore;
}

/** Keeps nothing across runs: each test file gets a fresh worker anyway. */
export class MemoryStore implements KeyValueStore {
  readonly #values = new Map<string, string>();
  get(key: string): string | undefined { return this.#values.get(key); }
  set(key: string, value: string): void { this.#values.set(key, value); }
  delete(key: string): void { this.#values.delete(key); }
}

function nibble(digit: number): number {
  if (digit >= 0x30 && digit <= 0x39) return digit - 0x30;
  const lower = digit | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x57;
  throw new Error('xsdot (xsnap): entropy must be a hex string');
}

function hexToBytes(hex: string): Uint8Array {
  // XS keeps strings as UTF-8, so indexing into a long string is slow (seconds for 128 KiB of hex):
  // read its bytes instead.
  const digits = new TextEncoder().encode(hex);
  if (digits.length % 2 !== 0) throw new Error('xsdot (xsnap): entropy must be a hex string');
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (nibble(digits[2 * i]) << 4) | nibble(digits[2 * i + 1]);
  return bytes;
}

/** randomBytes() over a one-time pool: bytes are handed out once and never reused. */
function poolRandomBytes(entropyHex: string | undefined): (length: number) => Uint8Array {
  let pool: Uint8Array | undefined;
  let used = 0;
  return (length) => {
    if (entropyHex === undefined) throw new Error('xsdot (xsnap): no entropy was injected, so randomBytes() has no secure source');
    pool ??= hexToBytes(entropyHex);
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`xsdot (xsnap): randomBytes(${length}): length must be a non-negative integer`);
    if (used + length > pool.length) {
      throw new Error(
        `xsdot (xsnap): random pool exhausted: randomBytes(${length}) after ${used} of the ${pool.length} bytes ` +
          'that hosts/xs/run-tests.ts injects per test file (raise ENTROPY_BYTES there)',
      );
    }
    const bytes = pool.slice(used, used + length);
    pool.fill(0, used, used + length); // handed out once: do not leave a copy behind
    used += length;
    return bytes;
  };
}

export function createXsRuntime(options: XsRuntimeOptions = {}): Runtime {
  return {
    name: 'xsnap',
    now: wallClock,
    monotonic,
    wallClockTrusted: () => true,
    setTimer,
    clearTimer,
    randomBytes: poolRandomBytes(options.entropyHex),
    utf8Encode,
    utf8Decode,
    log: options.log ?? ((level, message) => print(`[${level}] ${message}`)),
    crypto: pureCryptoProvider,
    store: options.store ?? new MemoryStore(),
    freeMemory: () => undefined,
  };
}

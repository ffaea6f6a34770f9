/**
 * The Moddable runtime for xsdot's core (ESP32, the Linux simulator, the x-cli-lin test executable).
 * Runs on XS: only the SDK's modules and ours, no Node APIs.
 *
 * - clock: `Date.now()`; trusted only once it is past 2024 (SNTP set it, or the host OS has it), else the
 *   session code counts from boot; `monotonic()` from esp_timer / CLOCK_MONOTONIC (system.c);
 * - timers: the SDK's `Timer`; an exception in a callback is logged, never left to abort the machine;
 * - randomness: the platform CSPRNG through random.c (ESP32 hardware RNG, Linux getrandom);
 * - SHA-256: the SDK's native `Digest("SHA256")` from `crypt` (HMAC is built on it by modules/crypto,
 *   with the key pads computed once per key); SHA-1 (`Digest("SHA1")`) for the WebSocket handshake;
 * - text: the SDK's TextEncoder / TextDecoder (malformed UTF-8 and lone surrogates become U+FFFD);
 * - key store: `Preference` (NVS on ESP32, one JSON file under the file root on Linux);
 * - log: `trace()` (the serial console on a device, stdout in the simulator and x-cli-lin);
 * - firmware updates: the SDK's OTA on ESP32, a file renamed into place on Linux (platform/*.ts).
 */
import Timer from 'timer';
import Preference from 'preference';
import { Digest } from 'crypt';
import TextEncoder from 'text/encoder';
import TextDecoder from 'text/decoder';
import type { CryptoProvider, KeyValueStore, LogLevel, Runtime, Sha256 } from '../../modules/runtime';
import { randomFill } from './random/random';
import { heapFree, monotonic } from './system/system';
import { beginFirmwareUpdate } from 'xsdot/hosts/moddable/platform/current';

/** Before this instant (2024-01-01T00:00:00Z) the device clock was never set. */
const TRUSTED_AFTER = Date.UTC(2024, 0, 1);

/** SHA-256 (or, for the WebSocket handshake, SHA-1) through the SDK's native digest; `write` takes any ArrayBuffer view in place (no copy). */
class ModdableSha256 implements Sha256 {
  readonly #digest: Digest;

  constructor(algorithm: 'SHA256' | 'SHA1' = 'SHA256') {
    this.#digest = new Digest(algorithm);
  }

  update(data: Uint8Array): void {
    // The typings say string | ArrayBuffer; the native write reads any buffer view (xsmcGetBufferReadable).
    if (data.length > 0) this.#digest.write(data as unknown as ArrayBuffer);
  }

  digest(): Uint8Array {
    return new Uint8Array(this.#digest.close());
  }

  reset(): void {
    this.#digest.reset();
  }
}

/** A class, not an object of closures per hash: two closures per hash were most of an HMAC's allocation on XS. */
export const moddableCryptoProvider: CryptoProvider = {
  name: 'moddable-crypt',
  createSha256: () => new ModdableSha256(),
  createSha1: () => new ModdableSha256('SHA1'),
};

/** The SDK's NVS limits on ESP32: keys of at most 15 bytes, string values under 4000 bytes. */
export const MAX_KEY_BYTES = 15;
export const MAX_VALUE_BYTES = 3999;

/**
 * The host key store over `Preference`, in one domain. Limits are checked on every platform, so a key
 * or value that would fail on the device fails the same way in the simulator and in tests.
 */
export class PreferenceStore implements KeyValueStore {
  readonly domain: string;
  readonly #encoder = new TextEncoder();

  constructor(domain = 'xsdot') {
    this.domain = domain;
  }

  get(key: string): string | undefined {
    const value = Preference.get(this.domain, key);
    return typeof value === 'string' ? value : undefined;
  }

  set(key: string, value: string): void {
    if (key.length === 0 || this.#encoder.encode(key).length > MAX_KEY_BYTES) {
      throw new RangeError(`xsdot: store key ${JSON.stringify(key)} must be 1–${MAX_KEY_BYTES} bytes (NVS)`);
    }
    if (this.#encoder.encode(value).length > MAX_VALUE_BYTES) {
      throw new RangeError(`xsdot: store value for ${key} is over ${MAX_VALUE_BYTES} bytes (NVS)`);
    }
    Preference.set(this.domain, key, value);
  }

  delete(key: string): void {
    Preference.delete(this.domain, key);
  }

  /** Every key of the domain (for diagnostics and tests). */
  keys(): string[] {
    return Preference.keys(this.domain);
  }
}

export interface ModdableRuntimeOptions {
  /** Short runtime name, e.g. "moddable-esp32". */
  name: string;
  store?: KeyValueStore;
  /** Where log lines go; default `trace()`. */
  log?: (level: LogLevel, message: string) => void;
}

function traceLog(level: LogLevel, message: string): void {
  trace(`[${level}] ${message}\n`);
}

export function createModdableRuntime(options: ModdableRuntimeOptions): Runtime {
  const log = options.log ?? traceLog;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const started = monotonic();
  return {
    name: options.name,
    now: () => Date.now(),
    monotonic: () => monotonic() - started,
    wallClockTrusted: () => Date.now() >= TRUSTED_AFTER,
    setTimer(callback: () => void, ms: number) {
      return Timer.set(() => {
        try {
          callback();
        } catch (error) {
          log('error', `xsdot: timer callback failed: ${describe(error)}`);
        }
      }, Math.max(0, Math.ceil(ms)));
    },
    clearTimer(id: unknown) {
      // Clearing a timer that already fired is harmless in the SDK.
      Timer.clear(id as ReturnType<typeof Timer.set>);
    },
    randomBytes(length: number) {
      if (!Number.isInteger(length) || length < 0) throw new RangeError(`xsdot: randomBytes(${length}): length must be a non-negative integer`);
      return randomFill(new Uint8Array(length));
    },
    // XS keeps a lone surrogate as its own 3 bytes (ED A0 80…), which the SDK's encoder copies out: not
    // UTF-8, and not what Node signs for the same string. toWellFormed() makes it U+FFFD, as on Node.
    utf8Encode: (text: string) => encoder.encode(text.isWellFormed() ? text : text.toWellFormed()),
    utf8Decode: (bytes: Uint8Array) => decoder.decode(bytes),
    log,
    crypto: moddableCryptoProvider,
    store: options.store ?? new PreferenceStore(),
    freeMemory: () => heapFree(),
    beginFirmwareUpdate,
  };
}

export function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}${error.stack ? `\n${error.stack}` : ''}`;
  return String(error);
}

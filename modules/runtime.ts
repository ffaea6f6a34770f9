/**
 * The one seam between xsdot's runtime-agnostic core and a runtime.
 *
 * Everything in `modules/` that needs time, randomness, digests, text encoding,
 * storage or logging asks `runtime()`. A host (`hosts/node`, `hosts/moddable`,
 * `hosts/xs`) calls `installRuntime()` once at start-up, before serving.
 */

/** A streaming SHA-256 (native `Digest` on Moddable, `node:crypto` on Node, pure TS on bare XS). */
export interface Sha256 {
  update(data: Uint8Array): void;
  /** Finishes the hash; the object may not be updated afterwards until `reset()`. */
  digest(): Uint8Array;
  /**
   * Optional: starts a new message on this object (the SDK Digest's `reset()`), so one object serves
   * many hashes. HMAC keeps one per key when the provider's hashes have it, instead of two per MAC.
   */
  reset?(): void;
}

export interface CryptoProvider {
  /** A short name for logs and benchmarks, e.g. "node:crypto", "moddable-crypt", "pure-ts". */
  readonly name: string;
  createSha256(): Sha256;
  /** Optional native HMAC-SHA256; when absent, modules/crypto builds it from `createSha256`. */
  hmacSha256?(key: Uint8Array, data: Uint8Array): Uint8Array;
  /**
   * Optional native SHA-1, the same streaming shape with a 20-byte digest: only for the WebSocket
   * handshake (RFC 6455 §4.2.2); when absent, modules/crypto/sha1.ts computes it.
   */
  createSha1?(): Sha256;
}

/** Small persistent key/value storage (Preference on Moddable, a file under XSDOT_DATA_DIR on Node). */
export interface KeyValueStore {
  get(key: string): string | undefined;
  /** Persists at once; throws when the store refuses (full, key too long). */
  set(key: string, value: string): void;
  delete(key: string): void;
}

/**
 * A firmware image being received (ESP32: the SDK's OTA into the next app partition; Node and the
 * Linux builds: a temporary file beside the image path, renamed over it). Nothing the running firmware
 * boots from changes until `complete()`.
 */
export interface FirmwareUpdate {
  /** The next bytes of the image. Throws when the target refuses (too large, write error). */
  write(bytes: Uint8Array): void;
  /** The image is whole and verified: it becomes the one the next boot runs (OTA complete / rename). */
  complete(): void;
  /** Discards everything written (OTA cancel / temporary file removed); safe to call more than once. */
  cancel(): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type TimerId = unknown;

export interface Runtime {
  /** Short runtime name, e.g. "node", "moddable-esp32", "xsnap". */
  readonly name: string;
  /** Wall-clock milliseconds since the Unix epoch (may be wrong when `wallClockTrusted()` is false). */
  now(): number;
  /** Milliseconds since this boot/process start; never goes backwards. */
  monotonic(): number;
  /** False on a device whose clock was never set (no SNTP): sessions then count time from boot. */
  wallClockTrusted(): boolean;
  /** Calls `callback` once after `ms` milliseconds (the host's timer: setTimeout on Node, Timer on Moddable). */
  setTimer(callback: () => void, ms: number): TimerId;
  clearTimer(id: TimerId): void;
  /** Cryptographically secure random bytes from the host (never the engine's plain PRNG). */
  randomBytes(length: number): Uint8Array;
  utf8Encode(text: string): Uint8Array;
  /** Decodes UTF-8; malformed sequences become U+FFFD. */
  utf8Decode(bytes: Uint8Array): string;
  log(level: LogLevel, message: string): void;
  readonly crypto: CryptoProvider;
  readonly store: KeyValueStore;
  /** Free heap bytes where the host can tell (dashboard/diagnostics), else undefined. */
  freeMemory?(): number | undefined;
  /** Starts receiving a firmware image, where the host can take one (see FirmwareUpdate). Throws when it cannot begin. */
  beginFirmwareUpdate?(): FirmwareUpdate;
}

let current: Runtime | undefined;

/** Called once by a host before anything in the core runs. */
export function installRuntime(host: Runtime): void {
  current = host;
}

/** Whether a host installed a runtime (host entry points install theirs only when none is). */
export function runtimeInstalled(): boolean {
  return current !== undefined;
}

/** The installed host runtime; throws a clear error when no host installed one. */
export function runtime(): Runtime {
  if (current === undefined) throw new Error('xsdot: no runtime installed (a host must call installRuntime() first)');
  return current;
}

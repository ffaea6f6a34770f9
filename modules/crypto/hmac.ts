/**
 * HMAC-SHA256 (RFC 2104 / RFC 4231). Uses the provider's native HMAC when it has one, otherwise builds
 * HMAC from the provider's streaming SHA-256.
 */
import { runtime, type CryptoProvider } from '../runtime';

const BLOCK_SIZE = 64;

/**
 * A key prepared once for many HMAC-SHA256 computations: with a digest-only provider the padded inner and
 * outer key blocks are computed on first use and kept (128 bytes), so each MAC costs only the two hashes.
 * Keys longer than 64 bytes are hashed first, as RFC 2104 says. The key bytes are not copied: do not
 * modify them afterwards.
 *
 * Without an explicit provider, `runtime().crypto` is looked up at each call, so a key may be created
 * before the host installs its runtime.
 */
export class HmacSha256Key {
  readonly #key: Uint8Array;
  readonly #provider: CryptoProvider | undefined;
  #innerPad: Uint8Array | undefined;
  #outerPad: Uint8Array | undefined;

  constructor(key: Uint8Array, provider?: CryptoProvider) {
    this.#key = key;
    this.#provider = provider;
  }

  /** The 32-byte HMAC-SHA256 of `data` under this key. */
  sign(data: Uint8Array): Uint8Array {
    const provider = this.#provider ?? runtime().crypto;
    if (provider.hmacSha256) return provider.hmacSha256(this.#key, data);
    if (this.#innerPad === undefined || this.#outerPad === undefined) {
      let key = this.#key;
      if (key.length > BLOCK_SIZE) {
        const hash = provider.createSha256();
        hash.update(key);
        key = hash.digest();
      }
      this.#innerPad = new Uint8Array(BLOCK_SIZE).fill(0x36);
      this.#outerPad = new Uint8Array(BLOCK_SIZE).fill(0x5c);
      for (let i = 0; i < key.length; i++) {
        this.#innerPad[i] ^= key[i];
        this.#outerPad[i] ^= key[i];
      }
    }
    const inner = provider.createSha256();
    inner.update(this.#innerPad);
    inner.update(data);
    const outer = provider.createSha256();
    outer.update(this.#outerPad);
    outer.update(inner.digest());
    return outer.digest();
  }
}

/** HMAC-SHA256 of `data` under `key` (any length), as 32 bytes. For repeated use of one key, see `HmacSha256Key`. */
export function hmacSha256(key: Uint8Array, data: Uint8Array, provider: CryptoProvider = runtime().crypto): Uint8Array {
  return new HmacSha256Key(key, provider).sign(data);
}

/**
 * HMAC-SHA256 (RFC 2104 / RFC 4231). Uses the provider's native HMAC when it has one, otherwise builds
 * HMAC from the provider's streaming SHA-256.
 */
import { runtime, type CryptoProvider, type Sha256 } from '../runtime';
import { PureSha256 } from './sha256';

const BLOCK_SIZE = 64;

/**
 * A key prepared once for many HMAC-SHA256 computations. With a digest-only provider the padded inner and
 * outer key blocks are computed on first use and kept (128 bytes), and the hash objects are kept too
 * when the provider's can be reset (one per key, e.g. the SDK's `Digest`): a MAC then allocates only
 * its two 32-byte digests. With the pure-TS SHA-256 the states after the two key blocks are kept
 * instead, so each MAC also skips those two compressions. Keys longer than 64 bytes are hashed first, as
 * RFC 2104 says. The key bytes are not copied: do not modify them afterwards.
 *
 * Without an explicit provider, `runtime().crypto` is looked up at each call, so a key may be created
 * before the host installs its runtime (what was prepared for another provider is prepared again).
 */
export class HmacSha256Key {
  readonly #key: Uint8Array;
  readonly #provider: CryptoProvider | undefined;
  /** The provider the fields below were prepared for. */
  #preparedFor: CryptoProvider | undefined;
  #innerPad: Uint8Array | undefined;
  #outerPad: Uint8Array | undefined;
  /** A resettable hash kept between MACs: the pure-TS inner hash (reset to after the inner pad), else the provider's. */
  #inner: Sha256 | undefined;
  /** The pure-TS outer hash, reset to after the outer pad; undefined otherwise. */
  #outer: PureSha256 | undefined;

  constructor(key: Uint8Array, provider?: CryptoProvider) {
    this.#key = key;
    this.#provider = provider;
  }

  /** The 32-byte HMAC-SHA256 of `data` under this key. */
  sign(data: Uint8Array): Uint8Array {
    const provider = this.#provider ?? runtime().crypto;
    if (provider.hmacSha256) return provider.hmacSha256(this.#key, data);
    // The first hash is made here, not in #prepare: one frame less on the deepest path (PBKDF2's first MAC).
    if (this.#preparedFor !== provider) this.#prepare(provider, provider.createSha256());
    const outer = this.#outer;
    if (outer !== undefined) {
      const inner = this.#inner as PureSha256;
      inner.reset();
      inner.update(data);
      outer.reset();
      outer.update(inner.digest());
      return outer.digest();
    }
    const hash = this.#inner ?? provider.createSha256();
    hash.reset?.();
    hash.update(this.#innerPad as Uint8Array);
    hash.update(data);
    const innerDigest = hash.digest();
    const second = this.#inner ?? provider.createSha256();
    second.reset?.();
    second.update(this.#outerPad as Uint8Array);
    second.update(innerDigest);
    return second.digest();
  }

  /** Computes the key blocks with `hash`, a fresh hash object of `provider`, and keeps it when it can be reused. */
  #prepare(provider: CryptoProvider, hash: Sha256): void {
    let key = this.#key;
    if (key.length > BLOCK_SIZE) {
      hash.update(key);
      key = hash.digest();
      hash = provider.createSha256();
    }
    const innerPad = new Uint8Array(BLOCK_SIZE).fill(0x36);
    const outerPad = new Uint8Array(BLOCK_SIZE).fill(0x5c);
    for (let i = 0; i < key.length; i++) {
      innerPad[i] ^= key[i];
      outerPad[i] ^= key[i];
    }
    if (hash instanceof PureSha256) {
      hash.update(innerPad);
      hash.markStart();
      const outer = new PureSha256();
      outer.update(outerPad);
      outer.markStart();
      this.#inner = hash;
      this.#outer = outer;
    } else {
      this.#inner = typeof hash.reset === 'function' ? hash : undefined;
      this.#outer = undefined;
    }
    this.#innerPad = innerPad;
    this.#outerPad = outerPad;
    this.#preparedFor = provider;
  }
}

/** HMAC-SHA256 of `data` under `key` (any length), as 32 bytes. For repeated use of one key, see `HmacSha256Key`. */
export function hmacSha256(key: Uint8Array, data: Uint8Array, provider: CryptoProvider = runtime().crypto): Uint8Array {
  return new HmacSha256Key(key, provider).sign(data);
}

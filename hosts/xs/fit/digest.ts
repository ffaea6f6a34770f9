/**
 * SHA-256 through the fit host's native digest (`__fitSha256` in fit.c), as a device hashes with the
 * SDK's native `Digest("SHA256")`: HMAC is then built on it by modules/crypto exactly as on a device.
 * Runs inside XS on xsdot-fit only. The pure-TS SHA-256 stays covered by tests/core on xsnap.
 */
import type { CryptoProvider, Sha256 } from '../../../modules/runtime';

/** fit.c: the SHA-256 of its arguments' bytes, concatenated, as a new 32-byte ArrayBuffer. */
declare function __fitSha256(...parts: Uint8Array[]): ArrayBuffer;

/**
 * One hash object: the parts are hashed in digest(); like Digest.write, update() keeps no copy of its own.
 * Like the SDK's Digest it can be reset and reused, and then allocates only its result: the parts'
 * array keeps its length, and the common one or two parts are passed without a spread.
 */
class FitSha256 implements Sha256 {
  readonly #parts: (Uint8Array | undefined)[] = [undefined, undefined];
  #count = 0;

  update(data: Uint8Array): void {
    if (this.#count < this.#parts.length) this.#parts[this.#count] = data;
    else this.#parts.push(data);
    this.#count++;
  }

  digest(): Uint8Array {
    const parts = this.#parts as Uint8Array[];
    const count = this.#count;
    if (count === 1) return new Uint8Array(__fitSha256(parts[0]));
    if (count === 2) return new Uint8Array(__fitSha256(parts[0], parts[1]));
    return new Uint8Array(__fitSha256(...parts.slice(0, count)));
  }

  reset(): void {
    this.#parts.fill(undefined);
    this.#count = 0;
  }
}

export const fitCryptoProvider: CryptoProvider = {
  name: 'fit-native',
  createSha256: () => new FitSha256(),
};

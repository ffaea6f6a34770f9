/**
 * SHA-256 through the fit host's native digest (`__fitSha256` in fit.c), as a device hashes with the
 * SDK's native `Digest("SHA256")`: HMAC is then built on it by modules/crypto exactly as on a device.
 * Runs inside XS on xsdot-fit only. The pure-TS SHA-256 stays covered by tests/core on xsnap.
 */
import type { CryptoProvider, Sha256 } from '../../../modules/runtime';

/** fit.c: the SHA-256 of its arguments' bytes, concatenated, as a new 32-byte ArrayBuffer. */
declare function __fitSha256(...parts: Uint8Array[]): ArrayBuffer;

/** One hash: the parts are hashed in digest(); like Digest.write, update() keeps no copy of its own. */
class FitSha256 implements Sha256 {
  readonly #parts: Uint8Array[] = [];

  update(data: Uint8Array): void {
    this.#parts.push(data);
  }

  digest(): Uint8Array {
    return new Uint8Array(__fitSha256(...this.#parts));
  }
}

export const fitCryptoProvider: CryptoProvider = {
  name: 'fit-native',
  createSha256: () => new FitSha256(),
};

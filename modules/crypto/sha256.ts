/**
 * SHA-256 (FIPS 180-4) in plain TypeScript, for hosts without a native digest (the bare-XS test host,
 * or any engine where `runtime().crypto` has nothing better). Moddable builds use the native `Digest`.
 *
 * Streaming: `update()` any number of times with chunks of any size, then `digest()` once.
 * Arithmetic is 32-bit integer throughout and no block allocates: each instance owns its state, a
 * 64-byte block buffer and the 64-word message schedule (≈ 350 bytes), reused for every block. The
 * schedule is not shared at module level because a Moddable build preloads modules into flash, where
 * typed arrays created at load time are read-only.
 */
import type { CryptoProvider, Sha256 } from '../runtime';

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL_STATE = Object.freeze([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

/**
 * Runs the compression function on the 64-byte block at `bytes[offset]`, updating `state` in place;
 * `w` is scratch space for the message schedule.
 */
function compress(state: Int32Array, w: Int32Array, bytes: Uint8Array, offset: number): void {
  for (let i = 0; i < 16; i++, offset += 4) {
    w[i] = (bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3];
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15];
    const y = w[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  let a = state[0], b = state[1], c = state[2], d = state[3];
  let e = state[4], f = state[5], g = state[6], h = state[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  state[0] = (state[0] + a) | 0; state[1] = (state[1] + b) | 0;
  state[2] = (state[2] + c) | 0; state[3] = (state[3] + d) | 0;
  state[4] = (state[4] + e) | 0; state[5] = (state[5] + f) | 0;
  state[6] = (state[6] + g) | 0; state[7] = (state[7] + h) | 0;
}

/** A streaming SHA-256; `reset()` starts the next message on the same instance. */
export class PureSha256 implements Sha256 {
  readonly #state = new Int32Array(INITIAL_STATE);
  /** What `reset()` returns to (set by `markStart()`): the state after a whole-block prefix, and its length. */
  #start: Int32Array | undefined;
  #startLength = 0;
  /** Bytes of an incomplete block carried between `update` calls (and the padding at the end). */
  readonly #block = new Uint8Array(64);
  readonly #schedule = new Int32Array(64);
  #blockLength = 0;
  /** Total message length in bytes (exact up to 2^53). */
  #length = 0;
  #done = false;

  /** Starts a new message: from the beginning, or after the prefix `markStart()` recorded. */
  reset(): void {
    if (this.#start === undefined) this.#state.set(INITIAL_STATE);
    else this.#state.set(this.#start);
    this.#length = this.#startLength;
    this.#blockLength = 0;
    this.#done = false;
  }

  /**
   * Makes the bytes hashed so far (whole 64-byte blocks: HMAC's key block) the prefix every message after
   * `reset()` starts with, without hashing them again. Throws when they are not whole blocks.
   */
  markStart(): void {
    if (this.#blockLength !== 0 || this.#done) throw new Error('PureSha256: markStart() needs whole blocks and no digest()');
    this.#start = this.#state.slice();
    this.#startLength = this.#length;
  }

  update(data: Uint8Array): void {
    if (this.#done) throw new Error('PureSha256: update() after digest() without reset()');
    const state = this.#state;
    const schedule = this.#schedule;
    const block = this.#block;
    const end = data.length;
    let pos = 0;
    this.#length += end;
    if (this.#blockLength > 0) {
      const take = Math.min(64 - this.#blockLength, end);
      block.set(data.subarray(0, take), this.#blockLength);
      this.#blockLength += take;
      pos = take;
      if (this.#blockLength < 64) return;
      compress(state, schedule, block, 0);
      this.#blockLength = 0;
    }
    // Whole blocks straight from the caller's bytes, without copying.
    for (; pos + 64 <= end; pos += 64) compress(state, schedule, data, pos);
    if (pos < end) {
      block.set(data.subarray(pos), 0);
      this.#blockLength = end - pos;
    }
  }

  digest(): Uint8Array {
    if (this.#done) throw new Error('PureSha256: digest() called twice');
    this.#done = true;
    const state = this.#state;
    const schedule = this.#schedule;
    const block = this.#block;
    let used = this.#blockLength;
    block[used++] = 0x80;
    if (used > 56) {
      block.fill(0, used);
      compress(state, schedule, block, 0);
      used = 0;
    }
    block.fill(0, used, 56);
    // The length in bits as a 64-bit big-endian integer.
    const high = Math.floor(this.#length / 0x20000000);
    const low = (this.#length * 8) >>> 0;
    block[56] = high >>> 24; block[57] = high >>> 16; block[58] = high >>> 8; block[59] = high;
    block[60] = low >>> 24; block[61] = low >>> 16; block[62] = low >>> 8; block[63] = low;
    compress(state, schedule, block, 0);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      const word = state[i];
      out[4 * i] = word >>> 24; out[4 * i + 1] = word >>> 16; out[4 * i + 2] = word >>> 8; out[4 * i + 3] = word;
    }
    return out;
  }
}

/** The pure-TypeScript provider: SHA-256 only; HMAC is built on it by `modules/crypto/hmac`. */
export const pureCryptoProvider: CryptoProvider = {
  name: 'pure-ts',
  createSha256: () => new PureSha256(),
};

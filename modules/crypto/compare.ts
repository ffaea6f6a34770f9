/**
 * Constant-time equality of two byte arrays, for comparing MACs: the time taken depends only on the
 * length, never on where (or whether) the bytes differ. Arrays of different lengths are unequal
 * (lengths are not secret: a MAC's length is fixed).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Tampering with a JWT in a way that provably changes what it says. Changing a token's last characters
 * can leave it unchanged (a replacement equal to what was there) or change only the unused low bits of
 * the final base64url character (same decoded bytes, which lenient decoders such as Python's accept).
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The token with the first character of its signature replaced by another base64url character. That
 * character carries the top 6 bits of the signature's first byte, so the decoded signature always differs.
 * Throws when `token` has no signature segment.
 */
export function tamperSignature(token: string): string {
  const at = token.lastIndexOf('.') + 1;
  const index = ALPHABET.indexOf(token[at] ?? '');
  if (at === 0 || index < 0) throw new Error('tamperSignature: not a JWT with a base64url signature');
  const tampered = token.slice(0, at) + ALPHABET[(index + 1) % 64] + token.slice(at + 1);
  if (tampered === token) throw new Error('tamperSignature: the token did not change');
  return tampered;
}

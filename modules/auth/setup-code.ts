/**
 * One-time setup codes for a device's first boot: the device prints the code on its console (never over
 * HTTP), and whoever sets the first password must type it, so a device fresh on a network cannot be
 * claimed by anyone else on it. (Universal default passwords are banned for connected devices under the
 * EU RED delegated act and the UK PSTI regulations.)
 *
 * A code is 8 characters of Crockford base32 (40 bits from the CSPRNG), shown as `7KQ4-M2XD`; typing is
 * forgiving: case, spaces and dashes are ignored, and O, I, L read as 0, 1, 1.
 */
import { runtime } from '../runtime';
import { constantTimeEqual } from '../crypto/compare';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** How a code is shown, for forms: each X one letter or digit of ALPHABET. */
export const SETUP_CODE_FORMAT = 'XXXX-XXXX';

/** A fresh code, e.g. `7KQ4-M2XD`. */
export function newSetupCode(): string {
  const bytes = runtime().randomBytes(5);
  let code = '';
  let value = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    value = (value << 8) | bytes[i];
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      code += ALPHABET[(value >>> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

/** The canonical form of a typed code. */
function canonical(text: string): string {
  return text.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
}

/** True when `typed` is `code` as a person may type it; compared in constant time. */
export function setupCodeMatches(code: string, typed: string): boolean {
  if (typed.length > 64) return false;
  const host = runtime();
  return constantTimeEqual(host.utf8Encode(canonical(code)), host.utf8Encode(canonical(typed)));
}

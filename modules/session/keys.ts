/**
 * Session signing keys: given explicitly, or created from the host CSPRNG on first start and kept in
 * the host key store (a 0600 file on Node, Preference/NVS on Moddable) so sessions survive reboots.
 */
import { runtime, type KeyValueStore } from '../runtime';
import { base64urlDecode, base64urlEncode } from '../crypto/base64url';
import { MIN_KEY_BYTES, type JwtKey } from './jwt';

/** Store key for the key list (NVS keys are at most 15 characters). */
export const KEYS_STORE_KEY = 'xsdot.keys';
/** Keys kept after a rotation: the new signing key plus the previous ones that still verify. */
export const DEFAULT_KEEP_KEYS = 2;

/**
 * Decodes a secret given as text (configuration, or XSDOT_SECRET_KEY on Node): hex (64+ digits) or
 * base64url (43+ characters). Throws an error naming the problem, never echoing the secret.
 */
export function parseSecret(text: string): Uint8Array {
  const trimmed = text.trim();
  let bytes: Uint8Array | undefined;
  if (/^[0-9a-fA-F]+$/.test(trimmed) && trimmed.length % 2 === 0 && trimmed.length >= MIN_KEY_BYTES * 2) {
    bytes = new Uint8Array(trimmed.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(trimmed.slice(i * 2, i * 2 + 2), 16);
  } else {
    bytes = base64urlDecode(trimmed);
  }
  if (bytes === undefined) throw new Error('xsdot: the secret key must be hex or base64url (unpadded)');
  if (bytes.length < MIN_KEY_BYTES) throw new Error(`xsdot: the secret key is ${bytes.length} bytes; at least ${MIN_KEY_BYTES} are needed`);
  return bytes;
}

function newKey(): JwtKey {
  // A short random kid keeps tokens small and tells keys of different devices apart.
  return { kid: base64urlEncode(runtime().randomBytes(3)), key: runtime().randomBytes(32) };
}

function encodeKeys(keys: readonly JwtKey[]): string {
  return keys.map(({ kid, key }) => `${kid ?? ''}:${base64urlEncode(key)}`).join(',');
}

function decodeKeys(text: string): JwtKey[] {
  return text.split(',').map((entry) => {
    const colon = entry.indexOf(':');
    const key = colon < 0 ? undefined : base64urlDecode(entry.slice(colon + 1));
    if (key === undefined) throw new Error(`xsdot: the stored session keys (${KEYS_STORE_KEY}) are corrupt`);
    return colon === 0 ? { key } : { kid: entry.slice(0, colon), key };
  });
}

/** The stored keys, creating and storing a first key when there are none. */
export function loadStoredKeys(store: KeyValueStore = runtime().store): JwtKey[] {
  const stored = store.get(KEYS_STORE_KEY);
  if (stored !== undefined && stored.length > 0) return decodeKeys(stored);
  const keys = [newKey()];
  store.set(KEYS_STORE_KEY, encodeKeys(keys));
  return keys;
}

/**
 * Puts a fresh key first (it signs from now on) and keeps `keep - 1` previous keys for verifying
 * tokens already issued. Returns the new list.
 */
export function rotateStoredKeys(store: KeyValueStore = runtime().store, keep = DEFAULT_KEEP_KEYS): JwtKey[] {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError('xsdot: keep must be at least 1');
  const keys = [newKey(), ...loadStoredKeys(store)].slice(0, keep);
  store.set(KEYS_STORE_KEY, encodeKeys(keys));
  return keys;
}

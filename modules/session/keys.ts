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
 * Decodes a secret given as text (configuration, or XSDOT_SECRET_KEY on Node). One rule, no guessing:
 * `hex:` then an even number of hex digits, or `base64url:` then unpadded base64url (RFC 4648 §5),
 * either giving at least MIN_KEY_BYTES (32) bytes — `hex:` and 64 digits (`openssl rand -hex 32`), or
 * `base64url:` and 43 characters. Throws an Error saying which rule failed, never echoing the secret.
 */
export function parseSecret(text: string): Uint8Array {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  const scheme = colon < 0 ? '' : trimmed.slice(0, colon);
  const value = trimmed.slice(colon + 1);
  let bytes: Uint8Array | undefined;
  if (scheme === 'hex') {
    if (!/^[0-9a-fA-F]*$/.test(value)) throw new Error('xsdot: the secret key after "hex:" has a character that is not a hex digit');
    if (value.length % 2 !== 0) throw new Error(`xsdot: the secret key after "hex:" has an odd number of digits (${value.length})`);
    bytes = new Uint8Array(value.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(value.slice(i * 2, i * 2 + 2), 16);
  } else if (scheme === 'base64url') {
    bytes = /^[A-Za-z0-9_-]*$/.test(value) ? base64urlDecode(value) : undefined;
    if (bytes === undefined) throw new Error('xsdot: the secret key after "base64url:" is not unpadded base64url (A-Z a-z 0-9 - _)');
  } else {
    throw new Error(`xsdot: the secret key must start with "hex:" (${MIN_KEY_BYTES * 2}+ hex digits) or "base64url:" (${Math.ceil(MIN_KEY_BYTES * 4 / 3)}+ characters)`);
  }
  if (bytes.length < MIN_KEY_BYTES) {
    throw new Error(`xsdot: the secret key after "${scheme}:" gives ${bytes.length} bytes; at least ${MIN_KEY_BYTES} are needed`);
  }
  return bytes;
}

/** A fresh key whose kid none of `others` has. */
function newKey(others: readonly JwtKey[] = []): JwtKey {
  // A two-character random kid (12 bits) keeps cookies small; it only has to differ from the kids of
  // the keys kept alongside (the MAC, not the kid, tells a forged token apart).
  let kid: string;
  do kid = base64urlEncode(runtime().randomBytes(2)).slice(0, 2);
  while (others.some((other) => other.kid === kid));
  return { kid, key: runtime().randomBytes(32) };
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
  const kept = loadStoredKeys(store).slice(0, keep - 1);
  const keys = [newKey(kept), ...kept];
  store.set(KEYS_STORE_KEY, encodeKeys(keys));
  return keys;
}

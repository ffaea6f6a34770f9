/** xsdot's crypto helpers: SHA-256, HMAC-SHA256, strict base64url and constant-time comparison. */
export { PureSha256, pureCryptoProvider } from './sha256';
export { HmacSha256Key, hmacSha256 } from './hmac';
export { base64urlDecode, base64urlEncode } from './base64url';
export { constantTimeEqual } from './compare';

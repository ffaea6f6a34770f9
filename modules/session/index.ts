/** xsdot sessions: HMAC-SHA256 (JWT HS256) signed cookies with microdot's API. */
export { Session, SessionData, withSession, type SessionOptions, type SessionValue, type RejectReason } from './session';
export { KeyRing, signToken, verifyToken, MIN_KEY_BYTES, type JwtKey, type VerifyResult, type VerifyFailure } from './jwt';
export { parseSecret, loadStoredKeys, rotateStoredKeys } from './keys';

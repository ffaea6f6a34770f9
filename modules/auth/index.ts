/**
 * xsdot's security parts for device login apps: password hashing, CSRF, login throttling and device cookies,
 * security headers, setup codes; microdot's Login, BasicAuth and TokenAuth extensions.
 */
export {
  PasswordStore, PasswordError, pbkdf2Sha256, hashPassword, verifyPassword, passwordProblem,
  DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH, type PasswordStoreOptions,
} from './password';
export { CsrfTokens, csrfGuard, isSameOrigin, CSRF_FIELD, CSRF_HEADER, type CsrfGuardOptions } from './csrf';
export { Throttle, clientKey, type ThrottleOptions } from './throttle';
export { DeviceCookies, DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE } from './device-cookie';
export { contentSecurityPolicy, setSecurityHeaders, useSecurityHeaders } from './headers';
export { newSetupCode, setupCodeMatches } from './setup-code';
export { Login, safeNext, MAX_USER_ID, DEFAULT_MAX_NEXT, FRESH_KEY, type LoginOptions } from './login';
export { BasicAuth, TokenAuth, credentialsMatch, DEFAULT_MAX_CREDENTIALS, type HttpAuthOptions, type TokenAuthOptions } from './http-auth';

/**
 * Security headers for the pages of a device's admin app:
 *
 *     useSecurityHeaders(app, contentSecurityPolicy(STYLE));   // style-src allows exactly this inline CSS
 *
 * Every response without its own Cache-Control (a static file sets one) gets `Cache-Control: no-store`
 * (the back button and shared caches never show a private page), `X-Frame-Options: DENY` and CSP `frame-ancestors 'none'` (no clickjacking), a CSP that allows
 * no scripts, no external assets and forms posting to this origin only, `Referrer-Policy: same-origin`
 * (`no-referrer` would make browsers send `Origin: null` on same-origin form posts, which the CSRF
 * origin check refuses) and `X-Content-Type-Options: nosniff`.
 */
import { runtime } from '../runtime';
import { base64urlEncode } from '../crypto/base64url';
import type { App } from '../http/app';
import type { Response } from '../http/response';

/**
 * A Content-Security-Policy allowing nothing but inline `<style>` elements whose text is exactly one of
 * `styles` (matched by SHA-256 hash; inline `style=""` attributes stay blocked) and forms posting to
 * this origin. Without styles, inline CSS is refused too. A style given as `'self'` allows the
 * origin's own stylesheets (`<link rel="stylesheet">`, e.g. a static file) instead of a text.
 */
export function contentSecurityPolicy(...styles: string[]): string {
  const styleSrc = styles.length === 0 ? "'none'" : styles.map((css) => (css === "'self'" ? css : `'sha256-${sha256Base64(css)}'`)).join(' ');
  return `default-src 'none'; style-src ${styleSrc}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;
}

/** Sets the security headers on `response` (see the module doc) and returns it. */
export function setSecurityHeaders(response: Response, csp: string = contentSecurityPolicy()): Response {
  const headers = response.headers;
  // Constant fields skip the name and value checks (and their allocations on XS); the CSP is checked.
  // A response that chose its caching keeps it (a static file's revalidation); every other one: no-store.
  if (headers.countLower('cache-control') === 0) headers.setKnown('cache-control', 'Cache-Control', 'no-store');
  headers.set('Content-Security-Policy', csp);
  headers.setKnown('x-frame-options', 'X-Frame-Options', 'DENY');
  headers.setKnown('x-content-type-options', 'X-Content-Type-Options', 'nosniff');
  headers.setKnown('referrer-policy', 'Referrer-Policy', 'same-origin');
  return response;
}

/** Sets the security headers on every response of `app`: its routes' (after) and its errors' (afterError). */
export function useSecurityHeaders(app: App, csp: string = contentSecurityPolicy()): void {
  const hook = (_request: unknown, response: Response) => {
    setSecurityHeaders(response, csp);
    return undefined;
  };
  app.after(hook);
  app.afterError(hook);
}

/** Standard (padded) base64 of the SHA-256 of `text`'s UTF-8, as CSP hash sources are written. */
function sha256Base64(text: string): string {
  const hash = runtime().crypto.createSha256();
  hash.update(runtime().utf8Encode(text));
  const encoded = base64urlEncode(hash.digest()).replace(/-/g, '+').replace(/_/g, '/');
  return encoded + '='.repeat((4 - (encoded.length % 4)) % 4);
}

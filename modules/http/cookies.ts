/** Cookies per RFC 6265: parsing the Cookie header and writing validated Set-Cookie values. */
import { everyAsciiByte } from './bytes';
import { isToken, isTokenByte } from './headers';
import { runtime } from '../runtime';

export interface CookieOptions {
  /** Seconds until expiry; 0 or negative deletes the cookie. */
  maxAge?: number;
  /** Absolute expiry, as a Date or epoch milliseconds. */
  expires?: Date | number;
  path?: string;
  domain?: string;
  secure?: boolean;
  httpOnly?: boolean;
  sameSite?: 'Strict' | 'Lax' | 'None';
  /** CHIPS partitioned cookie; needs `secure`. */
  partitioned?: boolean;
}

/**
 * Parses a Cookie header into name → values, in order. A name can repeat when a browser holds
 * cookies of one name for several paths or domains; callers that need one value decide what to do.
 * Pairs are split on `;` and the first `=`, trimmed, a value's surrounding double quotes removed; a pair
 * whose name is not a token or whose value is not cookie-octets is skipped. An ASCII header is scanned as
 * bytes (one native encode, then two slices per cookie: on XS every string method call allocates).
 */
export function parseCookieHeader(header: string | undefined): Map<string, string[]> {
  const cookies = new Map<string, string[]>();
  if (header !== undefined) scanCookies(header, undefined, cookies);
  return cookies;
}

/**
 * The values of cookie `name` in a Cookie header, in order: `parseCookieHeader(header).get(name) ?? []`
 * without the Map, and without a string for any other cookie's name or value.
 */
export function cookieValuesOf(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (header !== undefined) scanCookies(header, name, values);
  return values;
}

/** Adds each valid pair to `out`: every pair to a Map, or the values of the pairs named `only` to a list. */
function scanCookies(header: string, only: string | undefined, out: Map<string, string[]> | string[]): void {
  const bytes = runtime().utf8Encode(header);
  // Not ASCII: the string path, whose trim() also knows the non-ASCII spaces.
  if (bytes.length !== header.length) {
    parseCookieText(header, only, out);
    return;
  }
  for (let start = 0; start <= bytes.length;) {
    let end = bytes.indexOf(SEMICOLON, start);
    if (end < 0) end = bytes.length;
    const eq = bytes.indexOf(EQUALS, start);
    if (eq >= 0 && eq < end) {
      let nameStart = start;
      let nameEnd = eq;
      let valueStart = eq + 1;
      let valueEnd = end;
      while (nameStart < nameEnd && isSpace(bytes[nameStart])) nameStart++;
      while (nameEnd > nameStart && isSpace(bytes[nameEnd - 1])) nameEnd--;
      while (valueStart < valueEnd && isSpace(bytes[valueStart])) valueStart++;
      while (valueEnd > valueStart && isSpace(bytes[valueEnd - 1])) valueEnd--;
      if (valueEnd - valueStart >= 2 && bytes[valueStart] === QUOTE && bytes[valueEnd - 1] === QUOTE) {
        valueStart++;
        valueEnd--;
      }
      const named = only === undefined || (nameEnd - nameStart === only.length && header.startsWith(only, nameStart));
      if (named && nameEnd > nameStart && allBytes(bytes, nameStart, nameEnd, isTokenByte) && allBytes(bytes, valueStart, valueEnd, isCookieOctet)) {
        addCookie(out, only ?? header.slice(nameStart, nameEnd), header.slice(valueStart, valueEnd));
      }
    }
    start = end + 1;
  }
}

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const QUOTE = 0x22;

/** Whitespace an ASCII header value can hold (the parser refuses other control characters). */
function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function allBytes(bytes: Uint8Array, start: number, end: number, test: (c: number) => boolean): boolean {
  for (let i = start; i < end; i++) if (!test(bytes[i])) return false;
  return true;
}

function addCookie(cookies: Map<string, string[]> | string[], name: string, value: string): void {
  if (Array.isArray(cookies)) {
    cookies.push(value);
    return;
  }
  const values = cookies.get(name);
  if (values === undefined) cookies.set(name, [value]);
  else values.push(value);
}

/** `parseCookieHeader` on the string, for a header with non-ASCII characters. */
function parseCookieText(header: string, only: string | undefined, cookies: Map<string, string[]> | string[]): void {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1);
    if ((only === undefined || name === only) && isToken(name) && isCookieValue(value)) addCookie(cookies, name, value);
  }
}

/** RFC 6265 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash. */
export function isCookieValue(value: string): boolean {
  return everyAsciiByte(value, isCookieOctet);
}

function isCookieOctet(c: number): boolean {
  return c >= 0x21 && c <= 0x7e && c !== 0x22 && c !== 0x2c && c !== 0x3b && c !== 0x5c;
}

function isAttributeValue(value: string): boolean {
  return everyAsciiByte(value, isAttributeOctet);
}

function isAttributeOctet(c: number): boolean {
  return c >= 0x20 && c <= 0x7e && c !== 0x3b;
}

/** Builds a Set-Cookie value; throws TypeError for any name, value or attribute a browser would misread. */
export function serializeCookie(name: string, value: string, options: CookieOptions = {}): string {
  if (!isToken(name)) throw new TypeError(`xsdot: invalid cookie name ${JSON.stringify(name)}`);
  if (!isCookieValue(value)) throw new TypeError(`xsdot: invalid value for cookie ${name}: use only visible ASCII without ",;\\ or quotes (encode it first)`);
  let cookie = `${name}=${value}`;
  if (options.maxAge !== undefined) {
    if (!Number.isFinite(options.maxAge)) throw new TypeError('xsdot: cookie maxAge must be a finite number of seconds');
    cookie += `; Max-Age=${Math.max(0, Math.floor(options.maxAge))}`;
  }
  if (options.expires !== undefined) {
    const date = typeof options.expires === 'number' ? new Date(options.expires) : options.expires;
    if (Number.isNaN(date.getTime())) throw new TypeError('xsdot: cookie expires is not a valid date');
    cookie += `; Expires=${date.toUTCString()}`;
  }
  if (options.domain !== undefined) {
    if (!/^\.?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(options.domain)) throw new TypeError(`xsdot: invalid cookie domain ${JSON.stringify(options.domain)}`);
    cookie += `; Domain=${options.domain}`;
  }
  if (options.path !== undefined) {
    if (!options.path.startsWith('/') || !isAttributeValue(options.path)) throw new TypeError(`xsdot: invalid cookie path ${JSON.stringify(options.path)}`);
    cookie += `; Path=${options.path}`;
  }
  if (options.secure) cookie += '; Secure';
  if (options.httpOnly) cookie += '; HttpOnly';
  if (options.sameSite !== undefined) {
    if (options.sameSite !== 'Strict' && options.sameSite !== 'Lax' && options.sameSite !== 'None') throw new TypeError('xsdot: sameSite must be Strict, Lax or None');
    if (options.sameSite === 'None' && !options.secure) throw new TypeError('xsdot: SameSite=None needs secure (browsers drop it otherwise)');
    cookie += `; SameSite=${options.sameSite}`;
  }
  if (options.partitioned) {
    if (!options.secure) throw new TypeError('xsdot: partitioned cookies need secure');
    cookie += '; Partitioned';
  }
  // Cookie prefixes (RFC 6265bis §4.1.3): browsers reject these unless the attributes match.
  if (name.startsWith('__Secure-') && !options.secure) throw new TypeError('xsdot: a __Secure- cookie needs secure');
  if (name.startsWith('__Host-') && (!options.secure || options.path !== '/' || options.domain !== undefined)) {
    throw new TypeError('xsdot: a __Host- cookie needs secure, path "/" and no domain');
  }
  return cookie;
}

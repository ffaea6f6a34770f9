/** Cookies per RFC 6265: parsing the Cookie header and writing validated Set-Cookie values. */
import { everyAsciiByte } from './bytes';
import { charCodeAt, indexOf, isCookieValue, isSpaceOrTab, isToken, slice, startsWith } from './text';

export { isCookieValue };

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
 * whose name is not a token or whose value is not cookie-octets is skipped. The header is scanned by
 * native string searches (text.ts); a string is made for the name and value of each pair kept.
 */
export function parseCookieHeader(header: string | undefined): Map<string, string[]> {
  const cookies = new Map<string, string[]>();
  if (header !== undefined) scanCookies(header, 0, header.length, undefined, cookies);
  return cookies;
}

/**
 * The values of cookie `name` in a Cookie header, in order: `parseCookieHeader(header).get(name) ?? []`
 * without the Map, and without a string for any other cookie's name or value.
 */
export function cookieValuesOf(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  if (header !== undefined) scanCookies(header, 0, header.length, name, values);
  return values;
}

/**
 * Adds to `values` those of cookie `name` in the Cookie field value `text[start..end)`, read in place
 * (a parsed head's text: no string is made for the field, see ParsedHeaders).
 */
export function cookieValuesIn(text: string, start: number, end: number, name: string, values: string[]): void {
  scanCookies(text, start, end, name, values);
}

/**
 * Adds each valid pair of `header[from..to)` to `out`: every pair to a Map, or the values of the pairs
 * named `only` to a list.
 */
function scanCookies(header: string, from: number, to: number, only: string | undefined, out: Map<string, string[]> | string[]): void {
  // Read once: on XS a string's `length` boxes it (2 slots) each time.
  const onlyLength = only === undefined ? -1 : only.length;
  for (let start = from; start <= to;) {
    let end = indexOf.call(header, ';', start);
    if (end < 0 || end > to) end = to;
    const eq = indexOf.call(header, '=', start);
    if (eq >= 0 && eq < end) {
      let nameStart = start;
      let nameEnd = eq;
      let valueStart = eq + 1;
      let valueEnd = end;
      while (nameStart < nameEnd && isSpaceOrTab(charCodeAt.call(header, nameStart))) nameStart++;
      while (nameEnd > nameStart && isSpaceOrTab(charCodeAt.call(header, nameEnd - 1))) nameEnd--;
      while (valueStart < valueEnd && isSpaceOrTab(charCodeAt.call(header, valueStart))) valueStart++;
      while (valueEnd > valueStart && isSpaceOrTab(charCodeAt.call(header, valueEnd - 1))) valueEnd--;
      if (valueEnd - valueStart >= 2 && charCodeAt.call(header, valueStart) === QUOTE && charCodeAt.call(header, valueEnd - 1) === QUOTE) {
        valueStart++;
        valueEnd--;
      }
      if (only === undefined) {
        const name = slice.call(header, nameStart, nameEnd);
        const value = slice.call(header, valueStart, valueEnd);
        if (isToken(name) && isCookieValue(value)) addCookie(out, name, value);
      } else if (nameEnd > nameStart && nameEnd - nameStart === onlyLength && startsWith.call(header, only, nameStart)) {
        const value = slice.call(header, valueStart, valueEnd);
        if (isCookieValue(value)) addCookie(out, only, value);
      }
    }
    start = end + 1;
  }
}

const QUOTE = 0x22;

function addCookie(cookies: Map<string, string[]> | string[], name: string, value: string): void {
  if (Array.isArray(cookies)) {
    cookies.push(value);
    return;
  }
  const values = cookies.get(name);
  if (values === undefined) cookies.set(name, [value]);
  else values.push(value);
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

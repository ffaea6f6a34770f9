/**
 * Scanning text on the request path, the fast way on XS.
 *
 * On XS a JavaScript loop over bytes costs ~40 ns a byte on x86 (measured on the x-cli-lin build), and
 * `Uint8Array.prototype.indexOf` is no faster; its string methods and regular expressions are native
 * and ~50 times quicker. But a method called on a primitive string boxes it: `text.indexOf(…)` allocates
 * a wrapper (2 slots) per call, while `indexOf.call(text, …)` does not. So the hot path scans heads and
 * cookies as strings, through the `String.prototype` methods below, and checks RFC syntax with one
 * regular expression per item.
 *
 * The expressions are compiled on first use: the XS linker refuses a RegExp in a preloaded module, and
 * one compiled at boot would hold RAM before any request needs it. Each is linear (no nested or
 * overlapping quantifiers), so no input makes it backtrack.
 */

const S = String.prototype;
export const indexOf = S.indexOf;
export const startsWith = S.startsWith;
export const slice = S.slice;
export const charCodeAt = S.charCodeAt;
export const toLowerCase = S.toLowerCase;

/** True for SP and HT: the whitespace around a field value or a cookie pair (RFC 9110 §5.6.3, RFC 6265 §5.2). */
export function isSpaceOrTab(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** RFC 9110 §5.6.2 tchar, as a character class body. */
const TCHAR = "!#$%&'*+.^_`|~0-9A-Za-z-";

let token: RegExp | undefined;
let cookieValue: RegExp | undefined;
let head: RegExp | undefined;
let bareLine: RegExp | undefined;

/** True when `text` is an RFC 9110 §5.6.2 token (header names, methods, cookie names). */
export function isToken(text: string): boolean {
  return (token ??= new RegExp(`^[${TCHAR}]+$`)).test(text);
}

/** True when `value` is RFC 6265 §4.1.1 cookie-octets (possibly none): visible ASCII except DQUOTE , ; and backslash. */
export function isCookieValue(value: string): boolean {
  return (cookieValue ??= new RegExp('^[\\x21\\x23-\\x2b\\x2d-\\x3a\\x3c-\\x5b\\x5d-\\x7e]*$')).test(value);
}

/**
 * True when `text` (Latin-1, one character a byte) is a whole request head of valid syntax (RFC 9112
 * §2.1, §3, §5): a request line (a method token, a target of visible ASCII, `HTTP/d.d`), field lines
 * (a token, a colon, a value of VCHAR, obs-text, SP and HT), each ended by CRLF, then the empty line.
 * So no bare CR or LF, no whitespace before a colon, no obsolete line folding, no control character.
 */
export function isHeadSyntax(text: string): boolean {
  return (head ??= new RegExp(`^[${TCHAR}]+ [\\x21-\\x7e]+ HTTP/[0-9]\\.[0-9]\\r\\n(?:[${TCHAR}]+:[\\t\\x20-\\x7e\\x80-\\xff]*\\r\\n)*\\r\\n$`)).test(text);
}

/** True when `text`, which starts at a line start, holds a bare CR (followed by anything but LF) or a bare LF. */
export function hasBareLineEnd(text: string): boolean {
  return (bareLine ??= new RegExp('\\r[^\\n]|(?:^|[^\\r])\\n')).test(text);
}

import { cookieValuesOf, cookieValuesIn } from './cookies';
import { charCodeAt, isSpaceOrTab, isToken, slice, startsWith, toLowerCase } from './text';

export { isToken };

/** A small case-insensitive header list that keeps repeated fields (e.g. several Set-Cookie). */
export class Headers {
  /** Flat triples: lower-case name, name as given, value. One array keeps allocations low on XS. */
  readonly #fields: string[] = [];

  constructor(init?: Headers | Record<string, string> | Iterable<readonly [string, string]>) {
    // Most are made empty (every request's and response's): no instanceof (a native call on XS).
    if (init === undefined) return;
    if (init instanceof Headers) {
      for (const [name, value] of init) this.append(name, value);
    } else if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const [name, value] of init as Iterable<readonly [string, string]>) this.append(name, value);
    } else {
      for (const name of Object.keys(init)) this.append(name, (init as Record<string, string>)[name]);
    }
  }

  /** Number of fields (a repeated name counts each time). */
  get size(): number {
    return this.#fields.length / 3;
  }

  /** All values of `name` joined as HTTP allows (`, `; `; ` for Cookie), or undefined. */
  get(name: string): string | undefined {
    return this.getLower(name.toLowerCase());
  }

  getAll(name: string): string[] {
    const lower = name.toLowerCase();
    const values: string[] = [];
    for (let i = 0; i < this.#fields.length; i += 3) if (this.#fields[i] === lower) values.push(this.#fields[i + 2]);
    return values;
  }

  has(name: string): boolean {
    return this.countLower(name.toLowerCase()) > 0;
  }

  /** Adds a field; the value must not contain CR, LF or NUL (header injection). */
  append(name: string, value: string): void {
    checkField(name, value);
    this.#fields.push(name.toLowerCase(), name, value);
  }

  /** Replaces every field of that name with one. */
  set(name: string, value: string): void {
    this.delete(name);
    this.append(name, value);
  }

  delete(name: string): void {
    const lower = name.toLowerCase();
    for (let i = this.#fields.length - 3; i >= 0; i -= 3) if (this.#fields[i] === lower) this.#fields.splice(i, 3);
  }

  /** Fields in order as [name as given, value]. */
  *[Symbol.iterator](): IterableIterator<[string, string]> {
    for (let i = 0; i < this.#fields.length; i += 3) yield [this.#fields[i + 1], this.#fields[i + 2]];
  }

  /** @internal The fields as flat triples — lower-case name, name as given, value — in order; read only. */
  get raw(): readonly string[] {
    return this.#fields;
  }

  /**
   * @internal `get` for a name already in lower case: on XS each `toLowerCase()` makes a new string, and
   * the server's own lookups (framing, cookies, content type) run on every request.
   */
  getLower(lower: string): string | undefined {
    let joined: string | undefined;
    for (let i = 0; i < this.#fields.length; i += 3) {
      if (this.#fields[i] !== lower) continue;
      const value = this.#fields[i + 2];
      joined = joined === undefined ? value : joined + (lower === 'cookie' ? '; ' : ', ') + value;
    }
    return joined;
  }

  /** @internal How many fields named `lower` (lower case) there are. */
  countLower(lower: string): number {
    let count = 0;
    for (let i = 0; i < this.#fields.length; i += 3) if (this.#fields[i] === lower) count++;
    return count;
  }

  /** @internal `set` for a constant field of the framework's own: `lower` is `name` in lower case, both valid, the value too. */
  setKnown(lower: string, name: string, value: string): void {
    for (let i = this.#fields.length - 3; i >= 0; i -= 3) if (this.#fields[i] === lower) this.#fields.splice(i, 3);
    this.#fields.push(lower, name, value);
  }

  /** @internal The parser's fast path: `lower` is already lower-case and validated. */
  appendParsed(lower: string, value: string): void {
    this.#fields.push(lower, lower, value);
  }
}

/**
 * The fields of a parsed request head, read from the head's text when asked: a field nobody reads costs
 * no string. `index` holds three offsets per field line — where its name starts, its colon, its CRLF —
 * checked by the parser (parser.ts). The first change (append, set, delete) or walk over the fields
 * copies them into an ordinary list; lookups before that search the text.
 */
export class ParsedHeaders extends Headers {
  /** The head, as Latin-1 text; undefined once the fields were copied. */
  #text: string | undefined;
  /** The head in lower case, made by the first lookup. */
  #lower: string | undefined;
  readonly #index: Uint16Array | Uint32Array;

  constructor(text: string, index: Uint16Array | Uint32Array) {
    super();
    this.#text = text;
    this.#index = index;
  }

  override get size(): number {
    return this.#text === undefined ? super.size : this.#index.length / 3;
  }

  override getLower(lower: string): string | undefined {
    const text = this.#text;
    if (text === undefined) return super.getLower(lower);
    const index = this.#index;
    const usual = USUAL_NAMES.get(lower);
    const length = usual === undefined ? lower.length : usual.length;
    let joined: string | undefined;
    for (let i = 0, end = index.length; i < end; i += 3) {
      const start = index[i];
      const colon = index[i + 1];
      if (colon - start !== length || !ParsedHeaders.#named(this, text, start, lower, usual)) continue;
      const value = valueAt(text, colon + 1, index[i + 2]);
      joined = joined === undefined ? value : joined + (lower === 'cookie' ? '; ' : ', ') + value;
    }
    return joined;
  }

  override countLower(lower: string): number {
    const text = this.#text;
    if (text === undefined) return super.countLower(lower);
    const index = this.#index;
    const usual = USUAL_NAMES.get(lower);
    const length = usual === undefined ? lower.length : usual.length;
    let count = 0;
    for (let i = 0, end = index.length; i < end; i += 3) {
      const start = index[i];
      if (index[i + 1] - start === length && ParsedHeaders.#named(this, text, start, lower, usual)) count++;
    }
    return count;
  }

  /**
   * @internal The values of cookie `name` in the Cookie fields (cookies.ts `cookieValuesOf`), read in
   * place from the head's text: no string is made for the fields themselves.
   */
  cookieValues(name: string): string[] {
    const text = this.#text;
    if (text === undefined) return cookieValuesOf(super.getLower('cookie'), name);
    const index = this.#index;
    const values: string[] = [];
    for (let i = 0, end = index.length; i < end; i += 3) {
      if (index[i + 1] - index[i] === 6 && ParsedHeaders.#named(this, text, index[i], 'cookie', COOKIE)) cookieValuesIn(text, index[i + 1] + 1, index[i + 2], name, values);
    }
    return values;
  }

  override getAll(name: string): string[] {
    ParsedHeaders.#own(this);
    return super.getAll(name);
  }

  override append(name: string, value: string): void {
    ParsedHeaders.#own(this);
    super.append(name, value);
  }

  override set(name: string, value: string): void {
    ParsedHeaders.#own(this);
    super.set(name, value);
  }

  override delete(name: string): void {
    ParsedHeaders.#own(this);
    super.delete(name);
  }

  override setKnown(lower: string, name: string, value: string): void {
    ParsedHeaders.#own(this);
    super.setKnown(lower, name, value);
  }

  override appendParsed(lower: string, value: string): void {
    ParsedHeaders.#own(this);
    super.appendParsed(lower, value);
  }

  override [Symbol.iterator](): IterableIterator<[string, string]> {
    ParsedHeaders.#own(this);
    return super[Symbol.iterator]();
  }

  override get raw(): readonly string[] {
    ParsedHeaders.#own(this);
    return super.raw;
  }

  /**
   * True when the field name at `start`, as long as `lower`, is `lower` in any case. Its usual spellings
   * (as USUAL_NAMES has it, or all lower case) are compared in place; another is compared with the head
   * in lower case, made once (most heads never need it). Static: XS gives every instance a slot per
   * private method. (Lengths are compared by the callers: on XS `text.length` boxes the string, 2 slots.)
   */
  static #named(headers: ParsedHeaders, text: string, start: number, lower: string, usual: UsualName | undefined): boolean {
    if (usual !== undefined && startsWith.call(text, usual.name, start)) return true;
    if (startsWith.call(text, lower, start)) return true;
    // Equal letters differ at most in bit 0x20: a first character that differs otherwise cannot match.
    if ((charCodeAt.call(text, start) | 0x20) !== (charCodeAt.call(lower, 0) | 0x20)) return false;
    return startsWith.call(headers.#lower ??= toLowerCase.call(text), lower, start);
  }

  /**
   * Copies the fields from the text into the base class's list (names in lower case), once. Static:
   * XS gives every instance a slot per private method.
   */
  static #own(headers: ParsedHeaders): void {
    const text = headers.#text;
    if (text !== undefined) {
      const index = headers.#index;
      const names = (headers.#lower ??= toLowerCase.call(text));
      headers.#text = undefined;
      headers.#lower = undefined;
      for (let i = 0; i < index.length; i += 3) {
        Headers.prototype.appendParsed.call(headers, slice.call(names, index[i], index[i + 1]), valueAt(text, index[i + 1] + 1, index[i + 2]));
      }
    }
  }
}

/** A name's usual spelling and its length (on XS reading a string's `length` boxes it: 2 slots). */
interface UsualName {
  readonly name: string;
  readonly length: number;
}

/**
 * How clients spell the names the server and its extensions look up (lower case → usual spelling):
 * found in place, without lowering the head. Read only (in flash when preloaded).
 */
const USUAL_NAMES: ReadonlyMap<string, UsualName> = new Map(['Host', 'Connection', 'Content-Length', 'Transfer-Encoding', 'Expect',
  'Cookie', 'Content-Type', 'Origin', 'Referer', 'Authorization', 'Accept-Encoding', 'If-None-Match', 'If-Modified-Since', 'Upgrade',
  'Sec-WebSocket-Key', 'Sec-WebSocket-Version', 'Last-Event-ID', 'X-CSRF-Token', 'Access-Control-Request-Method',
  'Access-Control-Request-Headers'].map((name) => [name.toLowerCase(), Object.freeze({ name, length: name.length })]));
const COOKIE = USUAL_NAMES.get('cookie');

/** The field value `text[start..end)` without the optional whitespace around it (RFC 9110 §5.5). */
function valueAt(text: string, start: number, end: number): string {
  while (start < end && isSpaceOrTab(charCodeAt.call(text, start))) start++;
  while (end > start && isSpaceOrTab(charCodeAt.call(text, end - 1))) end--;
  return slice.call(text, start, end);
}

/** True when `c` is a byte of an RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~. */
export function isTokenByte(c: number): boolean {
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)) return true;
  switch (c) {
    case 33: case 35: case 36: case 37: case 38: case 39: case 42: case 43: case 45: case 46: case 94: case 95: case 96: case 124: case 126:
      return true;
    default:
      return false;
  }
}

function checkField(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`xsdot: invalid header name ${JSON.stringify(name)}`);
  // Three native searches, not a loop of charCodeAt calls: each of those allocates on XS.
  if (value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0 || value.indexOf('\0') >= 0) {
    throw new TypeError(`xsdot: header ${name} value contains CR, LF or NUL`);
  }
}

import { everyAsciiByte } from './bytes';

/** A small case-insensitive header list that keeps repeated fields (e.g. several Set-Cookie). */
export class Headers {
  /** Flat triples: lower-case name, name as given, value. One array keeps allocations low on XS. */
  readonly #fields: string[] = [];

  constructor(init?: Headers | Record<string, string> | Iterable<readonly [string, string]>) {
    if (init instanceof Headers) {
      for (const [name, value] of init) this.append(name, value);
    } else if (init !== undefined && typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
      for (const [name, value] of init as Iterable<readonly [string, string]>) this.append(name, value);
    } else if (init !== undefined) {
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

/** True when `text` is an RFC 9110 token (header names, methods, cookie names). */
export function isToken(text: string): boolean {
  return text.length > 0 && everyAsciiByte(text, isTokenByte);
}

function checkField(name: string, value: string): void {
  if (!isToken(name)) throw new TypeError(`xsdot: invalid header name ${JSON.stringify(name)}`);
  // Three native searches, not a loop of charCodeAt calls: each of those allocates on XS.
  if (value.indexOf('\r') >= 0 || value.indexOf('\n') >= 0 || value.indexOf('\0') >= 0) {
    throw new TypeError(`xsdot: header ${name} value contains CR, LF or NUL`);
  }
}

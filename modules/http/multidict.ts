/** Query-string and form values: a key may repeat (`?tag=a&tag=b`); `get` returns the first. */
export class MultiDict {
  readonly #entries: [string, string][] = [];

  get(key: string): string | undefined {
    for (const [k, v] of this.#entries) if (k === key) return v;
    return undefined;
  }

  getAll(key: string): string[] {
    const values: string[] = [];
    for (const [k, v] of this.#entries) if (k === key) values.push(v);
    return values;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  append(key: string, value: string): void {
    this.#entries.push([key, value]);
  }

  get size(): number {
    return this.#entries.length;
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.#entries[Symbol.iterator]();
  }

  /**
   * A plain object with the first value of each key, e.g. for JSON. On XS every key becomes a property
   * name that is never freed: do not call this on a client's fields on a device; use get()/getAll().
   */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.#entries) if (!(k in out)) out[k] = v;
    return out;
  }
}

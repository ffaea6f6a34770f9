/**
 * Throttling of password (and setup-code) guesses per client address, in bounded memory.
 *
 *     const throttle = new Throttle();
 *     const key = clientKey(request.clientAddress);
 *     const wait = throttle.retryAfter(key);
 *     if (wait > 0) return tooMany(wait);               // 429 with Retry-After: wait
 *     if (ok) throttle.success(key); else throttle.failure(key);
 *
 * After `freeFailures` failures in a row, each further failure makes the client wait `baseDelay`,
 * doubled each time, up to `maxDelay`. Keyed by address, not by cookie, so dropping cookies does not
 * help. The table holds at most `size` clients; a client quiet for `forgetAfter` is forgotten. When the
 * table is full, the least recently failing client is evicted and its eviction counts as a failure of
 * an "overflow" entry shared by every client not in the table: an attacker cycling through more
 * addresses than the table holds is throttled there (a legitimate newcomer may then have to wait too,
 * but only while more than `size` addresses are failing).
 */
import { runtime } from '../runtime';

export interface ThrottleOptions {
  /** Clients remembered (default 16; a few dozen bytes each). */
  size?: number;
  /** Failures in a row allowed without waiting (default 3: room for typos). */
  freeFailures?: number;
  /** First wait in milliseconds (default 1000), doubled with each further failure. */
  baseDelay?: number;
  /** Longest wait in milliseconds (default 15 minutes). */
  maxDelay?: number;
  /** A client with no failure for this many milliseconds starts afresh (default 1 hour). */
  forgetAfter?: number;
  /** Milliseconds on a clock that never goes back (default `runtime().monotonic()`). */
  now?: () => number;
}

interface Entry {
  failures: number;
  /** Time of the last failure. */
  last: number;
  /** No attempt before this time. */
  until: number;
}

export class Throttle {
  readonly size: number;
  readonly freeFailures: number;
  readonly baseDelay: number;
  readonly maxDelay: number;
  readonly forgetAfter: number;
  readonly #now: () => number;
  /** Least recently failing first (a Map keeps insertion order; a failure re-inserts). */
  readonly #entries = new Map<string, Entry>();
  readonly #overflow: Entry = { failures: 0, last: 0, until: 0 };

  constructor(options: ThrottleOptions = {}) {
    this.size = options.size ?? 16;
    this.freeFailures = options.freeFailures ?? 3;
    this.baseDelay = options.baseDelay ?? 1000;
    this.maxDelay = options.maxDelay ?? 15 * 60_000;
    this.forgetAfter = options.forgetAfter ?? 60 * 60_000;
    this.#now = options.now ?? (() => runtime().monotonic());
    if (!Number.isInteger(this.size) || this.size < 1) throw new RangeError('xsdot: throttle size must be a positive integer');
    if (!(this.freeFailures >= 0 && this.baseDelay > 0 && this.maxDelay >= this.baseDelay && this.forgetAfter > 0)) {
      throw new RangeError('xsdot: throttle needs freeFailures ≥ 0, baseDelay > 0, maxDelay ≥ baseDelay, forgetAfter > 0');
    }
  }

  /** Clients currently remembered (never more than `size`). */
  get count(): number {
    return this.#entries.size;
  }

  /** Seconds `client` must still wait before its next attempt (for Retry-After); 0 when it may try now. */
  retryAfter(client: string): number {
    const now = this.#now();
    const entry = this.#current(client, now) ?? this.#overflow;
    return entry.until > now ? Math.ceil((entry.until - now) / 1000) : 0;
  }

  /** Records a failed attempt; returns the seconds the client must now wait (0 while failures are free). */
  failure(client: string): number {
    const now = this.#now();
    let entry = this.#current(client, now);
    if (entry === undefined) {
      this.#makeRoom(now);
      entry = { failures: 0, last: now, until: 0 };
    }
    this.#entries.delete(client);
    this.#entries.set(client, entry);
    this.#fail(entry, now);
    return entry.until > now ? Math.ceil((entry.until - now) / 1000) : 0;
  }

  /** Forgets `client`'s failures (call after a successful attempt). */
  success(client: string): void {
    this.#entries.delete(client);
  }

  /** The wait after the `failures`-th failure in a row, in milliseconds. */
  delayAfter(failures: number): number {
    const over = failures - this.freeFailures;
    if (over <= 0) return 0;
    // 2^30 ms is 12 days: past any sensible maxDelay, and safe from overflow.
    return Math.min(this.maxDelay, this.baseDelay * 2 ** Math.min(over - 1, 30));
  }

  #fail(entry: Entry, now: number): void {
    if (this.#stale(entry, now)) entry.failures = 0;
    entry.failures++;
    entry.last = now;
    entry.until = now + this.delayAfter(entry.failures);
  }

  /** The client's entry, dropping it when it has gone quiet for `forgetAfter`. */
  #current(client: string, now: number): Entry | undefined {
    const entry = this.#entries.get(client);
    if (entry !== undefined && this.#stale(entry, now)) {
      this.#entries.delete(client);
      return undefined;
    }
    return entry;
  }

  #stale(entry: Entry, now: number): boolean {
    return now - entry.last >= this.forgetAfter && entry.until <= now;
  }

  #makeRoom(now: number): void {
    if (this.#entries.size < this.size) return;
    for (const [client, entry] of this.#entries) if (this.#stale(entry, now)) this.#entries.delete(client);
    if (this.#entries.size < this.size) return;
    const oldest = this.#entries.keys().next().value as string;
    this.#entries.delete(oldest);
    this.#fail(this.#overflow, now);
  }
}

/**
 * The throttle key for a client address: IPv4-mapped IPv6 (`::ffff:192.0.2.1`, as a dual-stack listener
 * reports IPv4 peers) becomes the IPv4 address, so one client has one key; no address gives `"?"`.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined || address === '') return '?';
  const lower = address.toLowerCase();
  return lower.startsWith('::ffff:') && lower.indexOf('.') > 0 ? lower.slice(7) : lower;
}

/**
 * Throttling of password (and setup-code) guesses, in bounded memory.
 *
 *     const throttle = new Throttle();                  // per address, and a budget shared by all of them
 *     const key = clientKey(request.clientAddress);
 *     const wait = throttle.retryAfter(key);
 *     if (wait > 0) return tooMany(wait);               // 429 with Retry-After: wait
 *     if (ok) throttle.success(key); else throttle.failure(key);
 *
 * After `freeFailures` failures in a row, each further failure makes the client wait `baseDelay`,
 * doubled each time, up to `maxDelay`. The table holds at most `size` clients (least recently failing
 * evicted first); a client quiet for `forgetAfter` is forgotten.
 *
 * Many addresses must not buy more guesses: every failure also counts against one entry
 * shared by all clients of this throttle (`sharedFreeFailures` free, then the same doubling), and a
 * client waits for whichever of the two is longer. So an attacker with any number of addresses guesses
 * at most as fast, in the long run, as one address (one guess per `maxDelay`), and evicting its own
 * entries from the table gains it nothing. The price: while such a flood lasts, every client of the
 * throttle waits too — which is why the login app throttles browsers that prove an earlier successful
 * login (a device cookie, device-cookie.ts) in a second throttle of their own, without a shared entry.
 * Keys are per client: clientKey() groups IPv6 addresses by /64.
 */
import { runtime } from '../runtime';
import { clientGroup } from '../http/address';

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
  /**
   * Count every failure also against one entry shared by all clients (default true; see the module doc).
   * Only for keys an attacker cannot mint at will (device cookies): without it, cycling through more keys
   * than the table holds would forget them.
   */
  shared?: boolean;
  /** Failures of all clients together allowed before the shared entry makes everyone wait (default 10). */
  sharedFreeFailures?: number;
}

interface Entry {
  failures: number;
  /** Time of the last failure. */
  last: number;
  /** No attempt before this time. */
  until: number;
}

/** The default clock: one function for every throttle (a closure per instance would cost each ~10 slots on XS). */
const hostMonotonic = (): number => runtime().monotonic();

export class Throttle {
  readonly size: number;
  readonly freeFailures: number;
  readonly baseDelay: number;
  readonly maxDelay: number;
  readonly forgetAfter: number;
  readonly sharedFreeFailures: number;
  readonly #now: () => number;
  /** Least recently failing first (a Map keeps insertion order; a failure re-inserts). */
  readonly #entries = new Map<string, Entry>();
  /** Every client's failures, with `shared`. */
  readonly #shared: Entry | undefined;

  constructor(options: ThrottleOptions = {}) {
    this.size = options.size ?? 16;
    this.freeFailures = options.freeFailures ?? 3;
    this.baseDelay = options.baseDelay ?? 1000;
    this.maxDelay = options.maxDelay ?? 15 * 60_000;
    this.forgetAfter = options.forgetAfter ?? 60 * 60_000;
    this.sharedFreeFailures = options.sharedFreeFailures ?? 10;
    this.#shared = options.shared === false ? undefined : { failures: 0, last: 0, until: 0 };
    this.#now = options.now ?? hostMonotonic;
    if (!Number.isInteger(this.size) || this.size < 1) throw new RangeError('xsdot: throttle size must be a positive integer');
    if (!(this.freeFailures >= 0 && this.sharedFreeFailures >= 0 && this.baseDelay > 0 && this.maxDelay >= this.baseDelay && this.forgetAfter > 0)) {
      throw new RangeError('xsdot: throttle needs freeFailures ≥ 0, sharedFreeFailures ≥ 0, baseDelay > 0, maxDelay ≥ baseDelay, forgetAfter > 0');
    }
  }

  /** Clients currently remembered (never more than `size`). */
  get count(): number {
    return this.#entries.size;
  }

  /** Seconds `client` must still wait before its next attempt (for Retry-After); 0 when it may try now. */
  retryAfter(client: string): number {
    const now = this.#now();
    return this.#wait(this.#current(client, now), now);
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
    this.#fail(entry, now, this.freeFailures);
    if (this.#shared !== undefined) this.#fail(this.#shared, now, this.sharedFreeFailures);
    return this.#wait(entry, now);
  }

  /** Forgets `client`'s failures (call after a successful attempt); the shared entry keeps its count. */
  success(client: string): void {
    this.#entries.delete(client);
  }

  /** The wait after the `failures`-th failure in a row, in milliseconds (`free` failures cost nothing). */
  delayAfter(failures: number, free = this.freeFailures): number {
    const over = failures - free;
    if (over <= 0) return 0;
    // 2^30 ms is 12 days: past any sensible maxDelay, and safe from overflow.
    return Math.min(this.maxDelay, this.baseDelay * 2 ** Math.min(over - 1, 30));
  }

  /** Whole seconds until both the client's entry and the shared one allow an attempt. */
  #wait(entry: Entry | undefined, now: number): number {
    let until = entry?.until ?? 0;
    if (this.#shared !== undefined && this.#shared.until > until) until = this.#shared.until;
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  #fail(entry: Entry, now: number, free: number): void {
    if (this.#stale(entry, now)) entry.failures = 0;
    entry.failures++;
    entry.last = now;
    entry.until = now + this.delayAfter(entry.failures, free);
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
    // The least recently failing client goes; with `shared` its failures are still counted there.
    this.#entries.delete(this.#entries.keys().next().value as string);
  }
}

/**
 * The throttle key for a client address (modules/http/address.ts): IPv4, IPv4-mapped IPv6 as IPv4, IPv6
 * by its /64 (one host may use any address of its /64), `"?"` without an address.
 */
export function clientKey(address: string | undefined): string {
  return clientGroup(address);
}

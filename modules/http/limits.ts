/**
 * Every buffer, count and wait the HTTP server has is bounded. Defaults fit an ESP32 with ~80 KB of
 * JS heap: with 4 connections the worst case held in RAM is 4 × (head 2 KB + body 4 KB).
 */
export interface Limits {
  /** Request line bytes (method, target, version). Over it: 414. */
  maxRequestLine: number;
  /** Header section bytes, after the request line. Over it: 431. */
  maxHeaderBytes: number;
  /** Number of header fields. Over it: 431. */
  maxHeaders: number;
  /** Body bytes (Content-Length). Over it: 413, before the body is read. */
  maxBody: number;
  /** Fields in an urlencoded form. Over it: 413. */
  maxFormFields: number;
  /** Open connections. Over it: 503 with Retry-After, then close. */
  maxConnections: number;
  /** Time from a request's first byte to its last. Over it: 408, then close (slowloris defence). */
  requestTimeout: number;
  /** Keep-alive wait for the next request. Over it: the connection closes quietly. */
  idleTimeout: number;
  /** Time a response may make no progress (client not reading). Over it: the connection closes. */
  sendTimeout: number;
  /** Requests answered on one connection before it is closed, to spread the connection slots. */
  maxRequestsPerConnection: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxRequestLine: 1024,
  maxHeaderBytes: 2048,
  maxHeaders: 24,
  maxBody: 4096,
  maxFormFields: 32,
  maxConnections: 4,
  requestTimeout: 10_000,
  idleTimeout: 5_000,
  sendTimeout: 10_000,
  maxRequestsPerConnection: 100,
});

/**
 * `defaults` with each of its members that `options` sets taken from `options` (other members of
 * `options` are not limits and are left out). Throws a RangeError naming `what` and the option for a
 * value that is not a positive integer.
 */
export function resolveOptionLimits<T extends Record<string, number>>(defaults: Readonly<T>, options: Partial<Record<keyof T, unknown>>, what: string): T {
  const limits = { ...defaults } as T;
  for (const name of Object.keys(defaults) as (keyof T & string)[]) {
    const value = options[name];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || (value as number) <= 0) throw new RangeError(`xsdot: ${what} ${name} must be a positive integer, got ${String(value)}`);
    limits[name] = value as T[keyof T & string];
  }
  return limits;
}

/** Merges overrides onto the defaults; refuses values that are not positive integers. */
export function resolveLimits(overrides: Partial<Limits> = {}): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`xsdot: limit ${name} must be a positive integer, got ${String(value)}`);
  }
  return limits;
}

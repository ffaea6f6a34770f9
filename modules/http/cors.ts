/**
 * Cross-Origin Resource Sharing (the Fetch standard's CORS protocol), in microdot's `CORS` shape, with
 * explicit allow-lists only:
 *
 *     new CORS(app, { allowedOrigins: ['https://dashboard.example'], allowedMethods: ['GET', 'PUT'],
 *       allowedHeaders: ['Content-Type'], exposeHeaders: ['ETag'], maxAge: 600, allowCredentials: true });
 *
 * - A response to a request whose `Origin` is exactly one of `allowedOrigins` gets
 *   `Access-Control-Allow-Origin: <that origin>` (and `-Allow-Credentials`, `-Expose-Headers` as set);
 *   any other origin (or none, `null`, a repeated Origin) gets no CORS header at all, so the browser keeps
 *   the response from the page. Every response gets `Vary: Origin` (added to the app's Vary), so no cache
 *   serves one origin's answer to another.
 * - A preflight (`OPTIONS` with `Access-Control-Request-Method`) from an allowed origin to a path the app
 *   routes (which would be 405) is answered 204 with exactly the allowed methods and headers, and
 *   `Access-Control-Max-Age`; hooks and handlers do not run for it (browsers send preflights without
 *   credentials). An unknown path stays 404. A route of the app's own for OPTIONS answers instead.
 * - `allowedOrigins: ['*']` allows any origin (the literal `*` is sent); with `allowCredentials` that would
 *   let every site read signed-in answers, so the constructor throws instead.
 *
 * Costs nothing to apps that do not use it: two hooks are registered only by `new CORS(app, …)`.
 */
import type { App } from './app';
import type { Headers } from './headers';
import { isToken } from './headers';
import type { Request } from './request';
import type { Response } from './response';

export interface CorsOptions {
  /**
   * Origins allowed to read responses, each a serialized origin (`scheme://host[:port]`, lower case, no
   * path or trailing slash), or just `['*']` for any origin. `null` is refused (sandboxed and file pages
   * send it: allowing it allows them all).
   */
  allowedOrigins: readonly string[];
  /** Send `Access-Control-Allow-Credentials: true` (cookies, HTTP auth); never with `*`. Default false. */
  allowCredentials?: boolean;
  /** Methods a preflight allows (default GET, HEAD, POST: the ones that need no preflight). */
  allowedMethods?: readonly string[];
  /** Request headers a preflight allows beyond the CORS-safelisted ones (default none). */
  allowedHeaders?: readonly string[];
  /** Response headers a page may read beyond the safelisted ones (default none). */
  exposeHeaders?: readonly string[];
  /** Seconds a browser may cache a preflight answer (`Access-Control-Max-Age`; default: not sent). */
  maxAge?: number;
}

// Made on first use: a preloaded module cannot hold a RegExp (XS).
let originPattern: RegExp | undefined;

export class CORS {
  readonly allowedOrigins: readonly string[];
  readonly allowCredentials: boolean;
  /** The preflight answer's lists, joined once. */
  readonly #methods: string;
  readonly #headers: string;
  readonly #expose: string;
  readonly #maxAge: string | undefined;
  readonly #any: boolean;

  /**
   * Checks the options and, with `app`, adds CORS to every response of it (`initialize`). Throws a
   * TypeError naming the option for `allowCredentials` with `*`, an entry that is not a serialized
   * origin, a method or header name that is not a token, or a `maxAge` that is not a whole number of seconds.
   */
  constructor(app: App | undefined, options: CorsOptions) {
    const origins = options.allowedOrigins;
    this.#any = origins.length === 1 && origins[0] === '*';
    this.allowCredentials = options.allowCredentials ?? false;
    if (this.#any && this.allowCredentials) {
      throw new TypeError('xsdot: CORS allowCredentials cannot be used with allowedOrigins ["*"]: list the origins allowed to read signed-in answers');
    }
    if (!this.#any) {
      for (const origin of origins) {
        if (!(originPattern ??= /^[a-z][a-z0-9+.-]*:[/][/](?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/).test(origin)) throw new TypeError(`xsdot: CORS allowedOrigins entry ${JSON.stringify(origin)} is not a serialized origin such as "https://app.example:8443" ("*" only alone)`);
      }
    }
    this.allowedOrigins = Object.freeze(origins.slice());
    this.#methods = tokenList('allowedMethods', options.allowedMethods ?? ['GET', 'HEAD', 'POST'], true);
    this.#headers = tokenList('allowedHeaders', options.allowedHeaders ?? [], false);
    this.#expose = tokenList('exposeHeaders', options.exposeHeaders ?? [], false);
    const maxAge = options.maxAge;
    if (maxAge !== undefined && !(Number.isInteger(maxAge) && maxAge >= 0)) throw new TypeError('xsdot: CORS maxAge must be a whole number of seconds');
    this.#maxAge = maxAge === undefined ? undefined : String(maxAge);
    if (app !== undefined) this.initialize(app);
  }

  /** Adds the CORS headers to every response of `app` (after and afterError hooks), and answers its preflights. */
  initialize(app: App): void {
    app.after(this.#after);
    app.afterError(this.#afterError);
  }

  /** The origin to send in `Access-Control-Allow-Origin` for `request`, or undefined when it is not allowed. */
  allowedOrigin(request: Request): string | undefined {
    const origin = request.headers.getLower('origin');
    if (origin === undefined || origin === 'null') return undefined;
    if (this.#any) return '*';
    return this.allowedOrigins.includes(origin) ? origin : undefined;
  }

  /** True for a CORS preflight: OPTIONS with `Access-Control-Request-Method`. */
  static isPreflight(request: Request): boolean {
    return request.method === 'OPTIONS' && request.headers.countLower('access-control-request-method') > 0;
  }

  readonly #after = (request: Request, response: Response): undefined => {
    this.#apply(request, response, CORS.isPreflight(request));
    return undefined;
  };

  /** Errors too: a page may read why its request failed. A routed path's 405 to a preflight becomes its answer. */
  readonly #afterError = (request: Request, response: Response): undefined => {
    const preflight = CORS.isPreflight(request);
    if (preflight && response.status === 405 && this.allowedOrigin(request) !== undefined) {
      response.status = 204;
      response.body = undefined;
      response.headers.delete('Content-Type');
    }
    this.#apply(request, response, preflight && response.status < 300);
    return undefined;
  };

  #apply(request: Request, response: Response, preflight: boolean): void {
    const headers = response.headers;
    addVary(headers, 'origin', 'Origin');
    const origin = this.allowedOrigin(request);
    if (origin === undefined) return;
    headers.set('Access-Control-Allow-Origin', origin);
    if (this.allowCredentials) headers.set('Access-Control-Allow-Credentials', 'true');
    if (preflight) {
      headers.set('Access-Control-Allow-Methods', this.#methods);
      if (this.#headers !== '') headers.set('Access-Control-Allow-Headers', this.#headers);
      if (this.#maxAge !== undefined) headers.set('Access-Control-Max-Age', this.#maxAge);
    } else if (this.#expose !== '') {
      headers.set('Access-Control-Expose-Headers', this.#expose);
    }
  }
}

/** The names of `list` joined with `, ` (methods upper-cased); throws naming `option` for a non-token or `*`. */
function tokenList(option: string, list: readonly string[], methods: boolean): string {
  for (const name of list) {
    // `*` means "any" to browsers only without credentials: explicit lists are the point.
    if (!isToken(name) || name === '*') throw new TypeError(`xsdot: CORS ${option} entry ${JSON.stringify(name)} is not a ${methods ? 'method' : 'header name'}`);
  }
  return (methods ? list.map((name) => name.toUpperCase()) : list).join(', ');
}

/** Adds `name` to the response's Vary unless it is listed already (or Vary is `*`). */
function addVary(headers: Headers, lower: string, name: string): void {
  const vary = headers.getLower('vary');
  if (vary === undefined) {
    headers.set('Vary', name);
    return;
  }
  for (const part of vary.split(',')) {
    const listed = part.trim().toLowerCase();
    if (listed === lower || listed === '*') return;
  }
  headers.set('Vary', `${vary}, ${name}`);
}

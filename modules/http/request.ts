/** The request a handler receives: line, headers, cookies and a bounded body decoded on first use. */
import { runtime } from '../runtime';
import { cookieValuesOf, parseCookieHeader } from './cookies';
import { HttpError } from './errors';
import type { App } from './app';
import type { RequestBody } from './body';
import { ParsedHeaders, type Headers } from './headers';
import type { Limits } from './limits';
import type { MultiDict } from './multidict';
import type { RequestHead } from './parser';
import type { HandlerResult, Response } from './response';
import { canonicalPath } from './router';
import { indexOf, slice } from './text';
import { parseUrlencoded } from './urlencoded';

export type AfterRequestHook = (request: Request, response: Response) => HandlerResult | Promise<HandlerResult>;

const NO_HOOKS: readonly AfterRequestHook[] = Object.freeze([]);
/** The params of a request before routing, and of a route without parameters (frozen: shared). */
export const NO_PARAMS: Record<string, string | number> = Object.freeze({});

/** What a request decodes on first use, in one object made only when one of them is asked for. */
interface Decoded {
  query?: MultiDict;
  cookies?: Map<string, string[]>;
  text?: string;
  form?: MultiDict | null;
  json?: { value: unknown };
  g?: Record<string, unknown>;
  afterRequestHooks?: AfterRequestHook[];
}

/**
 * Few own fields on purpose: each is a slot of the device's heap per request, so the request line's
 * parts are read from the parsed head, and what is decoded lazily shares one object.
 */
export class Request {
  /** The body bytes (at most `limits.maxBody`). */
  readonly body: Uint8Array;
  /** The peer's IP address where the socket tells it. */
  readonly clientAddress: string | undefined;
  /** Path parameters of the matched route, e.g. `{id: 42}` for `/users/<int:id>`. */
  params: Record<string, string | number> = NO_PARAMS;
  /** The app handling this request (the outermost one, when sub-apps are mounted). */
  app: App | undefined;
  readonly #head: RequestHead;
  readonly #limits: Pick<Limits, 'maxFormFields'>;
  #path: string | undefined;
  #decoded: Decoded | undefined;

  constructor(head: RequestHead, body: Uint8Array, clientAddress: string | undefined, limits: Pick<Limits, 'maxFormFields'>) {
    this.#head = head;
    this.body = body;
    this.clientAddress = clientAddress;
    this.#limits = limits;
  }

  get method(): string {
    return this.#head.method;
  }

  /** The path as sent, still percent-encoded (for logs, or a redirect that must keep its escapes). */
  get rawPath(): string {
    const target = this.#head.target;
    const question = indexOf.call(target, '?');
    return question < 0 ? target : slice.call(target, 0, question);
  }

  /** The raw query string, without the `?`. */
  get queryString(): string {
    const target = this.#head.target;
    const question = indexOf.call(target, '?');
    return question < 0 ? '' : slice.call(target, question + 1);
  }

  get version(): '1.0' | '1.1' {
    return this.#head.version;
  }

  /**
   * The authority the request was sent to (RFC 9112 §3.2.2): an absolute-form target's, else Host;
   * undefined for HTTP/1.0 without Host. A server with an allow-list only routes requests naming it.
   */
  get authority(): string | undefined {
    return this.#head.authority;
  }

  /** Case-insensitive: `headers.get('content-type')`. */
  get headers(): Headers {
    return this.#head.headers;
  }

  /**
   * The canonical path that hooks and routes both see: percent-decoded (`%2F` is a `/`) with dot
   * segments removed (RFC 3986 §6.2.2), so `/%61dmin/x` and `/a/../admin/x` are `/admin/x` to a hook
   * guarding `/admin` too. Throws HttpError 400 for a malformed escape or a decoded control character.
   */
  get path(): string {
    return (this.#path ??= canonicalPath(this.rawPath));
  }

  /** Query-string arguments (decoded, bounded like form fields). */
  get query(): MultiDict {
    const decoded = (this.#decoded ??= {});
    return (decoded.query ??= parseUrlencoded(this.queryString, { maxFields: this.#limits.maxFormFields }));
  }

  /** microdot's name for `query`. */
  get args(): MultiDict {
    return this.query;
  }

  /**
   * Cookies by name (the first value, when a name repeats). A Map, not an object: XS never frees a
   * property name, so names chosen by a client must not become object keys on a device.
   */
  get cookies(): ReadonlyMap<string, string> {
    const cookies = new Map<string, string>();
    for (const [name, values] of Request.#cookieMap(this)) cookies.set(name, values[0]);
    return cookies;
  }

  /** Every value sent for a cookie name, in header order (more than one is suspicious for a session). */
  cookieValues(name: string): string[] {
    // One name (a session's): scanned for, without the Map of every cookie the browser sent.
    const cookies = this.#decoded?.cookies;
    if (cookies !== undefined) return cookies.get(name) ?? [];
    const headers = this.headers;
    return headers instanceof ParsedHeaders ? headers.cookieValues(name) : cookieValuesOf(headers.getLower('cookie'), name);
  }

  /** Per-request storage for hooks and handlers (microdot's `request.g`). */
  get g(): Record<string, unknown> {
    const decoded = (this.#decoded ??= {});
    return (decoded.g ??= {});
  }

  /** Hooks run on the response of this request only (e.g. to save a session), in the order registered. */
  get afterRequestHooks(): readonly AfterRequestHook[] {
    return this.#decoded?.afterRequestHooks ?? NO_HOOKS;
  }

  /** Registers a hook for this request's response (microdot's `request.after_request`). */
  afterRequest(hook: AfterRequestHook): void {
    const decoded = (this.#decoded ??= {});
    (decoded.afterRequestHooks ??= []).push(hook);
  }

  /** The media type of the body, lower-cased, without parameters. */
  get contentType(): string | undefined {
    const header = this.headers.getLower('content-type');
    if (header === undefined) return undefined;
    const semicolon = header.indexOf(';');
    return (semicolon < 0 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  }

  /** The body as UTF-8 text. */
  get text(): string {
    const decoded = (this.#decoded ??= {});
    return (decoded.text ??= this.body.length === 0 ? '' : runtime().utf8Decode(this.body));
  }

  /** Fields of an `application/x-www-form-urlencoded` body; undefined for other types. 400/413 on bad input. */
  get form(): MultiDict | undefined {
    const decoded = (this.#decoded ??= {});
    if (decoded.form === undefined) {
      decoded.form = this.contentType === 'application/x-www-form-urlencoded' ? parseUrlencoded(this.text, { maxFields: this.#limits.maxFormFields }) : null;
    }
    return decoded.form ?? undefined;
  }

  /** The parsed body of an `application/json` request; undefined for other types. 400 on invalid JSON. */
  get json(): unknown {
    const decoded = (this.#decoded ??= {});
    if (decoded.json === undefined) {
      let value: unknown;
      if (this.contentType === 'application/json' || (this.contentType?.endsWith('+json') ?? false)) {
        try {
          value = JSON.parse(this.text);
        } catch {
          throw new HttpError(400, 'Invalid JSON body');
        }
      }
      decoded.json = { value };
    }
    return decoded.json.value;
  }

  /**
   * The body as a stream (body.ts), for a route registered with `maxStreamBody`: `body` is then empty
   * and the handler reads the body in pieces (`await request.stream.read()`, or `for await`). Undefined
   * for every other route. A getter on the prototype: a request that does not stream pays nothing.
   */
  get stream(): RequestBody | undefined {
    return undefined;
  }

  /** Static: XS gives every instance a slot per private method. */
  static #cookieMap(request: Request): Map<string, string[]> {
    const decoded = (request.#decoded ??= {});
    return (decoded.cookies ??= parseCookieHeader(request.headers.getLower('cookie')));
  }
}

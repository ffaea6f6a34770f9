/** Responses: what a handler returns, or builds to set status, headers and cookies. */
import { serializeCookie, type CookieOptions } from './cookies';
import { Headers } from './headers';

/** Pieces of a streamed body: written as the socket drains, so a large page never sits whole in RAM. */
export type BodyChunk = string | Uint8Array;
export type StreamBody = Iterable<BodyChunk> | AsyncIterable<BodyChunk>;
export type Body = string | Uint8Array | StreamBody;

export type HeadersInit = Headers | Record<string, string> | Iterable<readonly [string, string]>;

/** Anything a handler may return: a Response, a string, bytes, a generator, JSON-able data, or nothing (204). */
export type HandlerResult = Response | Body | object | number | boolean | null | undefined;

const TEXT = 'text/plain; charset=utf-8';

export class Response {
  status: number;
  readonly headers: Headers;
  body: Body | undefined;

  /**
   * `body`: a string (text/plain), bytes (application/octet-stream), an iterator or async iterator of
   * strings/bytes (streamed), or any other value, sent as JSON. A Content-Type in `headers` wins.
   */
  constructor(body?: unknown, status = 200, headers?: HeadersInit) {
    // Comparisons, not Number.isInteger (a native call on XS): every response is checked.
    if (typeof status !== 'number' || !(status >= 100 && status <= 599) || status % 1 !== 0) throw new RangeError(`xsdot: invalid HTTP status ${String(status)}`);
    this.status = status;
    this.headers = new Headers(headers);
    Response.#setBody(this, body, TEXT);
  }

  /** A redirect; 302 by default, 303 after a POST (so the browser follows with GET). */
  static redirect(location: string, status = 302): Response {
    if (status < 300 || status > 399) throw new RangeError(`xsdot: redirect status must be 3xx, got ${status}`);
    return new Response(undefined, status, { Location: location });
  }

  /** An HTML page (a string, or a generator of pieces streamed as the socket drains). */
  static html(html: string | StreamBody, status = 200, headers?: HeadersInit): Response {
    const response = new Response(undefined, status, headers);
    Response.#setBody(response, html, 'text/html; charset=utf-8');
    return response;
  }

  static json(value: unknown, status = 200, headers?: HeadersInit): Response {
    const response = new Response(JSON.stringify(value) ?? 'null', status, headers);
    response.headers.setKnown('content-type', 'Content-Type', 'application/json');
    return response;
  }

  /** Adds a Set-Cookie; throws TypeError for an invalid name, value or attribute (see cookies.ts). */
  setCookie(name: string, value: string, options?: CookieOptions): this {
    this.headers.append('Set-Cookie', serializeCookie(name, value, options));
    return this;
  }

  /** Tells the browser to drop a cookie: same name, path and domain, empty value, already expired. */
  deleteCookie(name: string, options: Pick<CookieOptions, 'path' | 'domain' | 'secure' | 'httpOnly' | 'sameSite' | 'partitioned'> = {}): this {
    return this.setCookie(name, '', { ...options, maxAge: 0, expires: 0 });
  }

  /** Static: XS gives every instance a slot per private method. */
  static #setBody(response: Response, body: unknown, textType: string): void {
    let type: string | undefined = textType;
    if (body === undefined || body === null) {
      response.body = undefined;
      type = undefined;
    } else if (typeof body === 'string' || isStream(body)) {
      response.body = body;
    } else if (body instanceof Uint8Array) {
      response.body = body;
      type = 'application/octet-stream';
    } else {
      response.body = JSON.stringify(body);
      type = 'application/json';
    }
    if (type !== undefined && response.headers.countLower('content-type') === 0) response.headers.setKnown('content-type', 'Content-Type', type);
  }
}

/** True for generators, iterators and async iterables that are not strings or byte arrays. */
export function isStream(value: unknown): value is StreamBody {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array || Array.isArray(value)) return false;
  const candidate = value as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown; next?: unknown };
  return typeof candidate[Symbol.asyncIterator] === 'function' || (typeof candidate[Symbol.iterator] === 'function' && typeof candidate.next === 'function');
}

/** Turns whatever a handler returned into a Response. */
export function toResponse(result: HandlerResult): Response {
  if (result instanceof Response) return result;
  if (result === undefined) return new Response(undefined, 204);
  return new Response(result);
}

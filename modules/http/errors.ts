/** HTTP errors: throw one from a handler (or use `abort()`) to answer with that status. */

// Frozen: a constant table in a preloaded module then stays in flash on a device.
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 408: 'Request Timeout', 409: 'Conflict', 411: 'Length Required',
  413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type', 417: 'Expectation Failed',
  421: 'Misdirected Request', 422: 'Unprocessable Content', 426: 'Upgrade Required', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
});

export function statusText(status: number): string {
  return STATUS_TEXT[status] ?? '';
}

export class HttpError extends Error {
  // A class field defines the property; assigning `this.name` would throw on Moddable, whose preload
  // freezes Error.prototype ("set name: not writable").
  override readonly name = 'HttpError';
  readonly status: number;
  /** Sent as the plain-text body; the status text when not given. Never put internals here. */
  readonly reason: string;
  /** The connection cannot be trusted after this error (framing lost): close it after answering. */
  readonly close: boolean;
  /** Extra response headers, e.g. Allow or Retry-After. */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(status: number, reason?: string, options: { close?: boolean; headers?: Record<string, string> } = {}) {
    super(reason ?? statusText(status));
    this.status = status;
    this.reason = reason ?? statusText(status);
    this.close = options.close ?? false;
    this.headers = options.headers;
  }
}

/** Stops the handler and answers `status` (microdot's `abort`). */
export function abort(status: number, reason?: string, headers?: Record<string, string>): never {
  throw new HttpError(status, reason, { headers });
}

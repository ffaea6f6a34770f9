/**
 * Drives an app in-process, like microdot's `TestClient`, but through the real server: each request
 * is serialized to bytes, parsed by the same parser, answered by the same connection code over an
 * in-memory ECMA-419 socket (memory-socket.ts), and the response bytes are parsed back. A cookie jar carries cookies between requests.
 */
import { runtime } from '../runtime';
import type { App } from './app';
import { concatBytes, latin1, latin1Bytes } from './bytes';
import { parseCookieHeader } from './cookies';
import { Headers } from './headers';
import { Server, type ServerOptions } from './server';
import { MemoryPeer, MemoryTCP } from './memory-socket';
import { percentEncode } from './urlencoded';

export interface TestRequestOptions {
  headers?: Record<string, string>;
  /** A raw body (string is sent as UTF-8). */
  body?: string | Uint8Array;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** The body as UTF-8. */
  text: string;
  /** The body parsed as JSON, when the response says application/json. */
  json: unknown;
}

export class TestClient {
  readonly app: App;
  readonly server: Server;
  /** Cookies the app set, by name (paths and domains are not modelled). */
  readonly cookies = new Map<string, string>();
  readonly #clientAddress: string;

  constructor(app: App, options: ServerOptions & { clientAddress?: string } = {}) {
    this.app = app;
    this.server = new Server(app, options);
    this.#clientAddress = options.clientAddress ?? '127.0.0.1';
  }

  get(path: string, options?: TestRequestOptions): Promise<TestResponse> { return this.request('GET', path, options); }
  post(path: string, options?: TestRequestOptions): Promise<TestResponse> { return this.request('POST', path, options); }
  put(path: string, options?: TestRequestOptions): Promise<TestResponse> { return this.request('PUT', path, options); }
  patch(path: string, options?: TestRequestOptions): Promise<TestResponse> { return this.request('PATCH', path, options); }
  delete(path: string, options?: TestRequestOptions): Promise<TestResponse> { return this.request('DELETE', path, options); }
  head(path: string, options?: TestRequestOptions): Promise<TestResponse> { return this.request('HEAD', path, options); }

  async request(method: string, path: string, options: TestRequestOptions = {}): Promise<TestResponse> {
    const headers = new Headers({ Host: 'localhost', ...options.headers });
    let body: Uint8Array | undefined;
    if (options.json !== undefined) {
      body = runtime().utf8Encode(JSON.stringify(options.json));
      if (!headers.has('content-type')) headers.set('Content-Type', 'application/json');
    } else if (options.form !== undefined) {
      body = runtime().utf8Encode(Object.entries(options.form).map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&'));
      if (!headers.has('content-type')) headers.set('Content-Type', 'application/x-www-form-urlencoded');
    } else if (options.body !== undefined) {
      body = typeof options.body === 'string' ? runtime().utf8Encode(options.body) : options.body;
    }
    if (body !== undefined) headers.set('Content-Length', String(body.length));
    if (this.cookies.size > 0 && !headers.has('cookie')) {
      headers.set('Cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    }
    headers.set('Connection', 'close');
    let head = `${method} ${path} HTTP/1.1\r\n`;
    for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
    const raw = concatBytes(runtime().utf8Encode(head + '\r\n'), body ?? new Uint8Array(0));
    const response = parseResponse(await this.exchange(raw), method === 'HEAD');
    this.#storeCookies(response.headers);
    return response;
  }

  /** Sends raw bytes on a fresh connection and returns every byte the server wrote until it closed. */
  async exchange(raw: Uint8Array | string): Promise<Uint8Array> {
    const peer = new MemoryPeer({ remoteAddress: this.#clientAddress });
    peer.send(typeof raw === 'string' ? latin1Bytes(raw) : raw);
    // From a job, as a device's listener callback comes from its event loop: the server's call chain
    // (what the device-fit check's stack budget measures) does not sit on top of the caller's.
    void Promise.resolve().then(() => this.server.accept(MemoryTCP, peer));
    await peer.done;
    return peer.head;
  }

  #storeCookies(headers: Headers): void {
    for (const setCookie of headers.getAll('set-cookie')) {
      const [pair, ...attributes] = setCookie.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((attribute) => {
        const [key, val] = attribute.trim().split('=');
        if (key.toLowerCase() === 'max-age') return Number(val) <= 0;
        if (key.toLowerCase() === 'expires') return Date.parse(val) <= runtime().now();
        return false;
      });
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

/** Parses one HTTP/1.1 response (Content-Length, chunked, or close-delimited). */
export function parseResponse(bytes: Uint8Array, headOnly = false): TestResponse {
  let start = 0;
  // Skip interim responses (100 Continue).
  for (;;) {
    const end = indexOfBlankLine(bytes, start);
    if (end < 0) throw new Error(`incomplete response head: ${JSON.stringify(latin1(bytes, start, Math.min(bytes.length, start + 200)))}`);
    const lines = latin1(bytes, start, end).split('\r\n');
    const status = Number(lines[0].split(' ')[1]);
    start = end + 4;
    if (status >= 100 && status < 200) continue;
    const headers = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      headers.append(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    let body = bytes.subarray(start);
    const length = headers.get('content-length');
    if (headOnly || status === 204 || status === 304) body = new Uint8Array(0);
    else if (headers.get('transfer-encoding') === 'chunked') body = dechunk(body);
    else if (length !== undefined) body = body.subarray(0, Number(length));
    const text = runtime().utf8Decode(body);
    const isJson = headers.get('content-type')?.startsWith('application/json') ?? false;
    return { status, headers, body, text, json: isJson && text.length > 0 ? JSON.parse(text) : undefined };
  }
}

/** The Cookie-header view of a Set-Cookie list, for tests that inspect names and values. */
export function cookiesOf(response: TestResponse): Map<string, string[]> {
  return parseCookieHeader(response.headers.getAll('set-cookie').map((c) => c.split(';')[0]).join('; '));
}

function indexOfBlankLine(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

function dechunk(bytes: Uint8Array): Uint8Array {
  let out: Uint8Array = new Uint8Array(0);
  let at = 0;
  for (;;) {
    let lineEnd = at;
    while (lineEnd + 1 < bytes.length && !(bytes[lineEnd] === 13 && bytes[lineEnd + 1] === 10)) lineEnd++;
    if (lineEnd + 1 >= bytes.length) throw new Error('truncated chunked body');
    const size = parseInt(latin1(bytes, at, lineEnd), 16);
    if (!(size >= 0)) throw new Error('bad chunk size');
    if (size === 0) return out;
    out = concatBytes(out, bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

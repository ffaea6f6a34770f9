/**
 * HTTP clients for tests against any xsdot server over real sockets, whatever host runs it (the Node
 * host in-process, the Moddable x-cli-lin executable):
 *
 * - `RawClient`: a plain TCP client that parses HTTP/1.1 responses out of the byte stream, for
 *   keep-alive, pipelining, split writes and limits (moved here from tests/node/helpers.ts, which
 *   re-exports it);
 * - `Browser`: fetch with a cookie jar, the latest form's CSRF token and a same-origin `Origin` on
 *   POSTs, as a browser would (moved here from tests/node/login-http.test.ts).
 *
 * Every wait gives up after a bound, so a broken server fails a test instead of hanging it.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  statusText: string;
  /** Lower-cased names; repeated fields keep every value. */
  headers: Map<string, string[]>;
  body: Buffer;
  text: string;
  /** The raw head, for exact checks. */
  head: string;
  header(name: string): string | undefined;
}

/** A plain TCP client that reads HTTP responses off the wire, in order. */
export class RawClient {
  readonly socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  #waiters: (() => void)[] = [];
  /** When the peer's FIN (or a reset) arrived, in performance.now() milliseconds. */
  endedAt: number | undefined;
  /** The socket error, if any (e.g. ECONNRESET). */
  error: Error | undefined;
  /** Total bytes received. */
  received = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => {
      this.received += data.length;
      this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
      this.#wake();
    });
    const ended = () => {
      if (this.#ended) return;
      this.#ended = true;
      this.endedAt = performance.now();
      this.#wake();
    };
    socket.on('end', ended);
    socket.on('close', ended);
    socket.on('error', (error) => {
      this.error = error;
      ended();
    });
  }

  /** `localAddress`: the client's own address (another 127.x.y.z, to be another client on loopback). */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, allowHalfOpen: true, localAddress });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawClient(socket));
      });
    });
  }

  /** True once the server closed its side (FIN or reset). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Bytes received and not yet taken by `readResponse`. */
  get pending(): Buffer {
    return this.#buffer;
  }

  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (error) => (error ? reject(error) : resolve()));
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Waits for more bytes or the end of the connection; rejects after `ms`. */
  async #waitForData(ms: number, what: string): Promise<void> {
    if (this.#ended) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        reject(new Error(`timed out after ${ms} ms waiting for ${what} (have ${this.#buffer.length} bytes: ${JSON.stringify(this.#buffer.subarray(0, 200).toString('latin1'))})`));
      }, ms);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push(wake);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves when the server has closed the connection; rejects after `ms`. */
  async waitEnd(ms = 2000): Promise<void> {
    const deadline = performance.now() + ms;
    while (!this.#ended) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for the server to close the connection`);
      await this.#waitForData(left, 'the connection to close').catch(() => undefined);
    }
  }

  /** Waits for `text` to appear in the received bytes (not consumed). */
  async waitForText(text: string, ms = 2000): Promise<void> {
    const deadline = performance.now() + ms;
    while (this.#buffer.toString('latin1').indexOf(text) < 0) {
      if (this.#ended) throw new Error(`connection closed before ${JSON.stringify(text)} arrived`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for ${JSON.stringify(text)}`);
      await this.#waitForData(left, JSON.stringify(text));
    }
  }

  /**
   * Reads the next response: framed by Content-Length, chunked coding, or the close of the
   * connection. `noBody` for answers to HEAD. Rejects after `ms`.
   */
  async readResponse(options: { noBody?: boolean; ms?: number } = {}): Promise<RawResponse> {
    const deadline = performance.now() + (options.ms ?? 2000);
    for (;;) {
      const parsed = parseResponse(this.#buffer, options.noBody ?? false, this.#ended);
      if (parsed !== undefined) {
        this.#buffer = this.#buffer.subarray(parsed.consumed);
        return parsed.response;
      }
      if (this.#ended) throw new Error(`connection closed before a complete response (have ${JSON.stringify(this.#buffer.toString('latin1').slice(0, 200))})`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out waiting for a response (have ${JSON.stringify(this.#buffer.toString('latin1').slice(0, 200))})`);
      await this.#waitForData(left, 'a response');
    }
  }
}

/** Parses one response at the start of `buffer`; undefined while incomplete. */
export function parseResponse(buffer: Buffer, noBody: boolean, ended: boolean): { response: RawResponse; consumed: number } | undefined {
  const headEnd = buffer.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const head = buffer.subarray(0, headEnd).toString('latin1');
  const lines = head.split('\r\n');
  const match = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(lines[0]);
  if (match === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const status = Number(match[1]);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  let offset = headEnd + 4;
  let body: Buffer;
  const length = headers.get('content-length');
  if (noBody || status < 200 || status === 204 || status === 304) {
    body = Buffer.alloc(0);
  } else if (headers.get('transfer-encoding')?.[0] === 'chunked') {
    const pieces: Buffer[] = [];
    for (;;) {
      const lineEnd = buffer.indexOf('\r\n', offset);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buffer.subarray(offset, lineEnd).toString('latin1'), 16);
      if (!Number.isInteger(size)) throw new Error('bad chunk size');
      if (buffer.length < lineEnd + 2 + size + 2) return undefined;
      if (buffer.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString('latin1') !== '\r\n') throw new Error('chunk not followed by CRLF');
      offset = lineEnd + 4 + size;
      if (size === 0) break;
      pieces.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
    }
    body = Buffer.concat(pieces);
  } else if (length !== undefined) {
    const n = Number(length[0]);
    if (buffer.length < offset + n) return undefined;
    body = buffer.subarray(offset, offset + n);
    offset += n;
  } else {
    if (!ended) return undefined;
    body = buffer.subarray(offset);
    offset = buffer.length;
  }
  const response: RawResponse = {
    status,
    statusText: match[2],
    headers,
    body,
    text: body.toString('utf8'),
    head,
    header: (name) => headers.get(name.toLowerCase())?.join(', '),
  };
  return { response, consumed: offset };
}

export interface Page {
  status: number;
  headers: Headers;
  text: string;
}

/** fetch with a cookie jar, the latest form token, and a same-origin Origin on POSTs — as a browser would. */
export class Browser {
  readonly cookies = new Map<string, string>();
  token = '';
  /**
   * `timeoutMs` bounds each request (the Moddable Linux build polls its sockets every 20 ms);
   * `localAddress` makes it another client on loopback (127.x.y.z; requests then go through node:http).
   */
  readonly base: string;
  readonly timeoutMs: number;
  readonly localAddress: string | undefined;
  constructor(base: string, timeoutMs = 10_000, localAddress?: string) {
    this.base = base;
    this.timeoutMs = timeoutMs;
    this.localAddress = localAddress;
  }

  get(path: string): Promise<Page> {
    return this.request('GET', path);
  }

  post(path: string, form: Record<string, string>, headers: Record<string, string> = { Origin: this.base }): Promise<Page> {
    return this.request('POST', path, new URLSearchParams({ csrf_token: this.token, ...form }).toString(), headers);
  }

  async request(method: string, path: string, body?: string, extra: Record<string, string> = {}): Promise<Page> {
    const headers: Record<string, string> = { ...extra };
    if (this.cookies.size > 0) headers.Cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    if (body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const response = this.localAddress === undefined
      ? await fetch(this.base + path, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(this.timeoutMs) })
      : await fetchFrom(this.localAddress, this.base + path, method, headers, body, this.timeoutMs);
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair.indexOf('=');
      if (/;\s*Max-Age=0/i.test(cookie)) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const text = await response.text();
    const token = /name="csrf_token" value="([^"]*)"/.exec(text);
    if (token !== null) this.token = token[1];
    return { status: response.status, headers: response.headers, text };
  }

  async signIn(password: string, username = 'admin'): Promise<Page> {
    await this.get('/login');
    return this.post('/login', { username, password });
  }
}

/** A fetch-like request from `localAddress` (fetch cannot choose its source address). */
function fetchFrom(localAddress: string, url: string, method: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<Response> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method, headers, localAddress, agent: false, timeout: timeoutMs }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        const responseHeaders = new Headers();
        for (let i = 0; i < incoming.rawHeaders.length; i += 2) responseHeaders.append(incoming.rawHeaders[i], incoming.rawHeaders[i + 1]);
        resolve(new Response(Buffer.concat(chunks), { status: incoming.statusCode ?? 0, headers: responseHeaders }));
      });
      incoming.on('error', reject);
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer from ${url} within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** The security headers every page of the login app carries. */
export function assertSecurityHeaders(page: Page, what: string): void {
  assert.equal(page.headers.get('cache-control'), 'no-store', what);
  assert.equal(page.headers.get('x-frame-options'), 'DENY', what);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff', what);
  assert.equal(page.headers.get('referrer-policy'), 'same-origin', what);
  assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, what);
}

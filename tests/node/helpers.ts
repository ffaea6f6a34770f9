/**
 * Shared pieces of the real-socket tests: a server on 127.0.0.1:0 with a captured log, a raw
 * `node:net` client that parses HTTP/1.1 responses out of the byte stream, and small waits that
 * always give up after a bound (so a broken server fails a test instead of hanging it).
 */
import { connect, type Socket } from 'node:net';
import { App } from '../../modules/http/app';
import type { Limits } from '../../modules/http/limits';
import { Response } from '../../modules/http/response';
import type { LogLevel } from '../../modules/runtime';
import { createNodeRuntime, MemoryStore } from '../../hosts/node/runtime';
import { serve, type RunningServer } from '../../hosts/node/serve';

/** Small limits so every timeout test runs in well under a second. */
export const FAST: Partial<Limits> = { requestTimeout: 300, idleTimeout: 300, sendTimeout: 500 };

export interface LogLine {
  level: LogLevel;
  message: string;
}

export interface TestServer extends RunningServer {
  logs: LogLine[];
  /** Opens a raw client to this server; it is destroyed by `close()`. */
  client(): Promise<RawClient>;
  /** Closes the server and every client opened through it. */
  close(): void;
}

export async function startServer(app: App, limits: Partial<Limits> = {}, retryAfter?: number): Promise<TestServer> {
  const logs: LogLine[] = [];
  const runtime = createNodeRuntime({ store: new MemoryStore(), log: (level, message) => logs.push({ level, message }) });
  const running = await serve(app, { port: 0, host: '127.0.0.1', limits: { ...FAST, ...limits }, runtime, retryAfter });
  const clients: RawClient[] = [];
  return {
    ...running,
    logs,
    async client() {
      const client = await RawClient.connect(running.port);
      clients.push(client);
      return client;
    },
    close() {
      running.close();
      for (const client of clients) client.destroy();
    },
  };
}

/** Runs `body` with a server, always closing it (and its raw clients) afterwards. */
export async function withServer(app: App, limits: Partial<Limits>, body: (server: TestServer) => Promise<void>, retryAfter?: number): Promise<void> {
  const server = await startServer(app, limits, retryAfter);
  try {
    await body(server);
  } finally {
    server.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 5 ms; rejects after `ms`. */
export async function waitFor(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

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

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
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

/** Sends `raw` on a fresh connection and reads one response; the client stays open for more checks. */
export async function exchange(server: TestServer, raw: string | Uint8Array, options: { noBody?: boolean; ms?: number } = {}): Promise<{ response: RawResponse; client: RawClient }> {
  const client = await server.client();
  await client.write(raw);
  const response = await client.readResponse(options);
  return { response, client };
}

/** The bytes of `/stream/<n>`: a deterministic pattern, so a lost or reordered piece shows. */
export function streamPiece(index: number, size: number): string {
  const line = `piece ${index} `;
  return (line + '.'.repeat(Math.max(0, size - line.length))).slice(0, size);
}

/** The app every socket test serves. */
export function testApp(): App {
  const app = new App();
  app.get('/', () => 'Hello, World!');
  app.get('/hello/<name>', (request) => `Hello, ${String(request.params.name)}!`);
  app.get('/users/<int:id>', (request) => ({ id: request.params.id, type: typeof request.params.id }));
  app.get('/files/<path:rest>', (request) => ({ rest: request.params.rest }));
  app.get('/args', (request) => ({ a: request.args.getAll('a'), b: request.args.get('b') ?? null }));
  app.post('/json', (request) => ({ json: request.json ?? null }));
  app.post('/form', (request) => ({ form: request.form?.toObject() ?? null }));
  app.post('/echo', (request) => request.text);
  app.route('/only-get', ['GET'], () => 'got');
  app.route('/items', ['GET', 'PUT'], () => 'items');
  // A streamed, chunked response of `n` pieces of 1000 bytes, generated lazily.
  app.get('/stream/<int:n>', (request) => {
    const n = Number(request.params.n);
    return new Response((function* () {
      for (let i = 0; i < n; i++) yield streamPiece(i, 1000);
    })(), 200, { 'Content-Type': 'text/plain' });
  });
  // Far more than any socket buffer holds (up to 1 GB), for clients that stop reading.
  app.get('/endless', () => new Response((function* () {
    const piece = new Uint8Array(16 * 1024).fill(120);
    for (let i = 0; i < 65_536; i++) yield piece;
  })()));
  app.get('/async-stream', () => new Response((async function* () {
    for (let i = 0; i < 5; i++) {
      await sleep(2);
      yield `part ${i};`;
    }
  })()));
  // Fails after two pieces: the headers are gone, so the server can only cut the connection.
  app.get('/broken-stream', () => new Response((function* () {
    yield 'first;';
    yield 'second;';
    throw new Error('disk read failed');
  })()));
  app.get('/redirect', () => Response.redirect('/target'));
  app.post('/redirect-after-post', () => Response.redirect('/done', 303));
  app.get('/cookie', () => new Response('set')
    .setCookie('sid', 'abc123', { path: '/', httpOnly: true, secure: true, sameSite: 'Strict', maxAge: 3600 })
    .setCookie('theme', 'dark', { sameSite: 'Lax', expires: Date.UTC(2030, 0, 1) }));
  app.get('/boom', () => {
    throw new Error('secret-db-password=hunter2');
  });
  app.get('/slow/<int:ms>', async (request) => {
    await sleep(Number(request.params.ms));
    return 'slow';
  });
  return app;
}

/** A well-formed GET. */
export function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
}

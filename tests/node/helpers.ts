/**
 * Shared pieces of the real-socket tests: a server on 127.0.0.1:0 with a captured log, a raw
 * `node:net` client that parses HTTP/1.1 responses out of the byte stream, and small waits that
 * always give up after a bound (so a broken server fails a test instead of hanging it).
 */
import { App } from '../../modules/http/app';
import type { Limits } from '../../modules/http/limits';
import { Response } from '../../modules/http/response';
import type { LogLevel } from '../../modules/runtime';
import { createNodeRuntime, MemoryStore } from '../../hosts/node/runtime';
import { serve, type RunningServer } from '../../hosts/node/serve';
import { RawClient, type RawResponse } from '../integration/client';

// The raw HTTP client moved to tests/integration/client.ts (shared with the Moddable target's tests).
export { parseResponse, RawClient, type RawResponse } from '../integration/client';

/** Small limits so every timeout test runs in well under a second. */
export const FAST: Partial<Limits> = { requestTimeout: 300, idleTimeout: 300, sendTimeout: 500 };

/** Names the test servers answer to besides 127.0.0.1 and localhost on their port. */
export const TEST_HOSTS: readonly string[] = Object.freeze(['t', 'test', 'example.test']);

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
  // The raw requests of these tests name the server `t`, `test` or `example.test` (any port).
  const running = await serve(app, { port: 0, address: '127.0.0.1', limits: { ...FAST, ...limits }, runtime, retryAfter, hostNames: TEST_HOSTS, announce: false });
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
  // `n` bytes of a fixed pattern, sent with Content-Length (not streamed).
  app.get('/bytes/<int:n>', (request) => new Uint8Array(Number(request.params.n)).map((_, i) => 97 + (i % 26)));
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

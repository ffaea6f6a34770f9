/**
 * Streamed request bodies (request.stream, modules/http/body.ts) through real sockets: bodies far over
 * maxBody in Content-Length and chunked framing, the per-route limit (413), Expect: 100-continue,
 * backpressure (the socket is not read faster than the handler reads), a client leaving mid-body, and
 * the connection kept alive only after a body read to its end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { App, Response } from '../../modules/http/index';
import { BodyStreamError, type RequestBody } from '../../modules/http/body';
import { sleep, waitFor, withServer } from './helpers';

const MB = 1024 * 1024;

function pattern(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  return bytes;
}

interface Seen {
  error?: unknown;
  body?: RequestBody;
}

function uploadApp(seen: Seen, limit = 2 * MB): App {
  const app = new App();
  app.post('/upload', async (request) => {
    const stream = request.stream;
    assert.ok(stream !== undefined);
    assert.equal(request.body.length, 0);
    seen.body = stream;
    const hash = createHash('sha256');
    let largest = 0;
    try {
      for await (const piece of stream) {
        hash.update(piece);
        largest = Math.max(largest, piece.length);
      }
    } catch (error) {
      seen.error = error;
      throw error;
    }
    return Response.json({ length: stream.received, sha256: hash.digest('hex'), largest });
  }, { maxStreamBody: limit });
  app.post('/refuse', () => new Response('no', 403), { maxStreamBody: limit });
  app.post('/slow', async (request) => {
    seen.body = request.stream;
    await request.stream?.read();
    await sleep(300);
    return 'read one piece';
  }, { maxStreamBody: 64 * MB });
  app.post('/small', (request) => `small ${request.body.length}`);
  return app;
}

function post(port: number, path: string, body: Buffer, options: { chunked?: boolean } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { Host: 't' };
    if (!options.chunked) headers['Content-Length'] = body.length;
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
      const pieces: Buffer[] = [];
      res.on('data', (piece: Buffer) => pieces.push(piece));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(pieces).toString() }));
    });
    req.on('error', reject);
    // Written in uneven pieces, as a client's writes split a body.
    for (let at = 0, i = 0; at < body.length; i++) {
      const size = 1 + ((i * 7919) % 20_000);
      req.write(body.subarray(at, at + size));
      at += size;
    }
    req.end();
  });
}

test('a body far over maxBody streams through in pieces of at most maxBody, Content-Length and chunked', async () => {
  const seen: Seen = {};
  await withServer(uploadApp(seen), { requestTimeout: 5_000, maxBody: 4096 }, async (server) => {
    const body = pattern(MB + 123);
    const want = createHash('sha256').update(body).digest('hex');
    for (const chunked of [false, true]) {
      const { status, text } = await post(server.port, '/upload', body, { chunked });
      assert.equal(status, 200, text);
      const result = JSON.parse(text) as { length: number; sha256: string; largest: number };
      assert.equal(result.length, body.length);
      assert.equal(result.sha256, want);
      assert.ok(result.largest <= 4096, `a piece of ${result.largest} bytes`);
    }
    // Routes without maxStreamBody keep the whole-body limit.
    assert.equal((await post(server.port, '/small', pattern(5000))).status, 413);
    assert.equal((await post(server.port, '/small', pattern(5000), { chunked: true })).status, 411);
  });
});

test('maxStreamBody: a Content-Length over it is 413 before any byte is read; a chunked body is cut at it', async () => {
  const seen: Seen = {};
  await withServer(uploadApp(seen, 10_000), { requestTimeout: 5_000, maxBody: 4096 }, async (server) => {
    const client = await server.client();
    await client.write('POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10001\r\nExpect: 100-continue\r\n\r\n');
    const refused = await client.readResponse();
    assert.equal(refused.status, 413);
    assert.match(refused.text, /maxStreamBody/);
    const chunked = await post(server.port, '/upload', pattern(10_001), { chunked: true });
    assert.equal(chunked.status, 413);
    assert.equal((await post(server.port, '/upload', pattern(10_000), { chunked: true })).status, 200);
  });
});

test('Expect: 100-continue: sent when the handler reads, never when it answers without reading', async () => {
  const seen: Seen = {};
  await withServer(uploadApp(seen), { requestTimeout: 5_000, maxBody: 4096 }, async (server) => {
    const refusing = await server.client();
    await refusing.write('POST /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    const no = await refusing.readResponse();
    assert.equal(no.status, 403);
    assert.equal(no.header('connection'), 'close', 'the unread body ends the connection');

    const client = await server.client();
    await client.write('POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    const interim = await client.readResponse();
    assert.equal(interim.status, 100);
    await client.write('hello');
    const done = await client.readResponse();
    assert.equal(done.status, 200);
    assert.equal((JSON.parse(done.text) as { length: number }).length, 5);
  });
});

test('backpressure: a handler that stops reading stops the socket being read', async () => {
  const seen: Seen = {};
  await withServer(uploadApp(seen), { requestTimeout: 5_000, maxBody: 4096 }, async (server) => {
    const client = await server.client();
    const size = 32 * MB;
    await client.write(`POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: ${size}\r\n\r\n`);
    const piece = Buffer.alloc(256 * 1024, 1);
    // Write without waiting: what the server does not read piles up in the kernel, then in the client.
    for (let sent = 0; sent < 8 * MB; sent += piece.length) void client.write(piece).catch(() => undefined);
    await waitFor(() => seen.body !== undefined, 2_000, 'the handler');
    await sleep(200);
    assert.ok((seen.body?.received ?? 0) <= 4096, `the server read ${seen.body?.received} body bytes for a handler that read one piece`);
    const response = await client.readResponse();
    assert.equal(response.status, 200);
    assert.equal(response.header('connection'), 'close');
  });
});

test('a client leaving mid-body: the handler\'s read rejects with BodyStreamError and the connection is gone', async () => {
  const seen: Seen = {};
  await withServer(uploadApp(seen), { requestTimeout: 5_000, maxBody: 4096 }, async (server) => {
    const client = await server.client();
    await client.write(`POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n${'x'.repeat(30_000)}`);
    await waitFor(() => (seen.body?.received ?? 0) >= 30_000, 2_000, 'the first bytes');
    client.destroy();
    await waitFor(() => seen.error !== undefined, 2_000, 'the read to reject');
    assert.ok(seen.error instanceof BodyStreamError, String(seen.error));
    assert.match((seen.error as Error).message, /before the end of the body/);
    await waitFor(() => server.server.connectionCount === 0, 2_000, 'the connection to close');
  });
});

test('a stalled body times out: the read rejects and the connection closes', async () => {
  const seen: Seen = {};
  await withServer(uploadApp(seen), { requestTimeout: 200 }, async (server) => {
    const client = await server.client();
    await client.write('POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc');
    await waitFor(() => seen.error !== undefined, 2_000, 'the read to reject');
    assert.match((seen.error as Error).message, /requestTimeout/);
    await waitFor(() => server.server.connectionCount === 0, 2_000, 'the connection to close');
  });
});

test('a body read to its end keeps the connection: a pipelined request after it is answered', async () => {
  const seen: Seen = {};
  await withServer(uploadApp(seen), { requestTimeout: 5_000, maxBody: 4096 }, async (server) => {
    const client = await server.client();
    await client.write('POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n' +
      'POST /small HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi');
    const first = await client.readResponse();
    assert.equal(first.status, 200);
    assert.equal((JSON.parse(first.text) as { length: number }).length, 5);
    assert.equal(first.header('connection'), undefined);
    const second = await client.readResponse();
    assert.equal(second.text, 'small 2');
    // Malformed chunked framing is 400.
    const bad = await server.client();
    await bad.write('POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    assert.equal((await bad.readResponse()).status, 400);
  });
});

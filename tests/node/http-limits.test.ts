/**
 * Every request limit and framing rule of the HTTP core, over real sockets: each test sends the
 * excess (or the malformed bytes), checks the documented status, and that the connection is closed
 * where the server says the stream can no longer be trusted (or kept where it can).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { App } from '../../modules/http/app';
import { exchange, get, sleep, testApp, withServer, type RawClient, type RawResponse, type TestServer } from './helpers';

const T = { timeout: 5000 };

const LIMITS = { maxRequestLine: 256, maxHeaderBytes: 512, maxHeaders: 8, maxBody: 1024, maxFormFields: 4 };

/** Sends `raw`, expects `status` with `Connection: close`, then the server's close and nothing more. */
async function expectRefused(server: TestServer, raw: string, status: number): Promise<{ response: RawResponse; client: RawClient }> {
  const result = await exchange(server, raw);
  const { response, client } = result;
  assert.equal(response.status, status, `expected ${status} for ${JSON.stringify(raw.slice(0, 80))}, got ${response.head}`);
  assert.equal(response.header('connection'), 'close');
  assert.equal(response.header('content-length'), String(response.body.length));
  await client.waitEnd(1000);
  assert.equal(client.pending.length, 0, 'nothing after the error response');
  return result;
}

/** An app that counts the requests that reached a handler. */
function countingApp(): { app: App; handled: () => number } {
  let handled = 0;
  const app = testApp();
  app.before(() => {
    handled++;
    return undefined;
  });
  return { app, handled: () => handled };
}

describe('size limits', () => {
  test('request line over maxRequestLine → 414 and close; exactly at it is served', T, () => withServer(testApp(), LIMITS, async (server) => {
    const atLimit = `GET /${'a'.repeat(256 - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
    assert.equal(atLimit.length, 256);
    const { response } = await exchange(server, `${atLimit}\r\nHost: t\r\n\r\n`);
    assert.equal(response.status, 404);
    await expectRefused(server, `GET /${'a'.repeat(256)} HTTP/1.1\r\nHost: t\r\n\r\n`, 414);
  }));

  test('414 comes as soon as the line is too long, before its end is sent', T, () => withServer(testApp(), LIMITS, async (server) => {
    const { response, client } = await exchange(server, `GET /${'a'.repeat(300)}`);
    assert.equal(response.status, 414);
    await client.waitEnd(1000);
  }));

  test('header section over maxHeaderBytes → 431 and close', T, () => withServer(testApp(), LIMITS, async (server) => {
    await expectRefused(server, get('/', `X-Big: ${'b'.repeat(600)}\r\n`), 431);
    // Refused as soon as the bytes show the excess, without waiting for the end of the head.
    const { response, client } = await exchange(server, `GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${'b'.repeat(600)}`);
    assert.equal(response.status, 431);
    await client.waitEnd(1000);
  }));

  test('a header section of exactly maxHeaderBytes is served; one byte more → 431', T, () => withServer(testApp(), LIMITS, async (server) => {
    // Field lines with their CRLFs, not counting the request line or the blank line that ends the head.
    const fields = (size: number) => {
      const fixed = 'Host: t\r\nX-Pad: \r\n';
      return `Host: t\r\nX-Pad: ${'p'.repeat(size - fixed.length)}\r\n`;
    };
    assert.equal(fields(512).length, 512);
    const { response } = await exchange(server, `GET / HTTP/1.1\r\n${fields(512)}\r\n`);
    assert.equal(response.status, 200, 'exactly maxHeaderBytes');
    await expectRefused(server, `GET / HTTP/1.1\r\n${fields(513)}\r\n`, 431);
  }));

  test('a head exactly at both limits, split at every byte boundary, is served every time', T, () => withServer(testApp(), { maxRequestLine: 64, maxHeaderBytes: 128, requestTimeout: 5000, maxRequestsPerConnection: 10_000 }, async (server) => {
    const line = `GET /${'l'.repeat(64 - 'GET / HTTP/1.1'.length)} HTTP/1.1`;
    const fields = `Host: t\r\nX-Pad: ${'p'.repeat(128 - 'Host: t\r\nX-Pad: \r\n'.length)}\r\n`;
    assert.equal(line.length, 64);
    assert.equal(fields.length, 128);
    const raw = `${line}\r\n${fields}\r\n`;
    const client = await server.client();
    for (let split = 1; split < raw.length; split++) {
      await client.write(raw.slice(0, split));
      await sleep(1);
      await client.write(raw.slice(split));
      assert.equal((await client.readResponse()).status, 404, `split at byte ${split}`);
    }
    assert.equal(client.ended, false);
  }));

  test('more than maxHeaders fields → 431 and close; exactly maxHeaders is served', T, () => withServer(testApp(), LIMITS, async (server) => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-H${i}: ${i}\r\n`).join('');
    const { response } = await exchange(server, get('/', fields(7))); // + Host = 8
    assert.equal(response.status, 200);
    await expectRefused(server, get('/', fields(8)), 431);
  }));

  test('Content-Length over maxBody → 413 before the body is sent, then close', T, async () => {
    const { app, handled } = countingApp();
    await withServer(app, LIMITS, async (server) => {
      // Only the head is sent: the 413 must arrive without the server waiting for the body.
      await expectRefused(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n', 413);
      const huge = await expectRefused(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999999999\r\n\r\n', 413);
      assert.equal(huge.response.text, 'Content Too Large');
      assert.equal(handled(), 0, 'no handler ran');
      const { response } = await exchange(server, `POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n${'y'.repeat(1024)}`);
      assert.equal(response.text.length, 1024);
      assert.equal(handled(), 1);
    });
  });

  test('Content-Length over maxBody with the body sent anyway (200 KB) → 413 and close', T, async () => {
    const { app, handled } = countingApp();
    await withServer(app, LIMITS, async (server) => {
      const client = await server.client();
      client.socket.write(`POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 204800\r\n\r\n`);
      client.socket.write(Buffer.alloc(204_800, 120));
      const response = await client.readResponse();
      assert.equal(response.status, 413);
      assert.equal(response.header('connection'), 'close');
      await client.waitEnd(1000);
      assert.equal(handled(), 0);
      assert.equal(server.server.connectionCount, 0);
    });
  });

  test('a form with more than maxFormFields → 413; the connection stays usable', T, () => withServer(testApp(), LIMITS, async (server) => {
    const form = (n: number) => Array.from({ length: n }, (_, i) => `f${i}=${i}`).join('&');
    const post = (body: string) => `POST /form HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const { response: ok, client } = await exchange(server, post(form(4)));
    assert.deepEqual(JSON.parse(ok.text), { form: { f0: '0', f1: '1', f2: '2', f3: '3' } });
    await client.write(post(form(5)));
    const tooMany = await client.readResponse();
    assert.equal(tooMany.status, 413);
    assert.equal(tooMany.text, 'More than 4 form fields');
    assert.equal(tooMany.header('connection'), undefined, 'the body was read whole: framing is intact');
    await client.write(get('/'));
    assert.equal((await client.readResponse()).status, 200);
  }));

  test('invalid JSON → 400; the connection stays usable', T, () => withServer(testApp(), LIMITS, async (server) => {
    const body = '{"a": 1,';
    const { response, client } = await exchange(server, `POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    assert.equal(response.status, 400);
    assert.equal(response.text, 'Invalid JSON body');
    assert.equal(response.header('connection'), undefined);
    assert.equal(server.logs.filter((l) => l.level === 'error').length, 0, 'a client error is not logged as a server error');
    await client.write(get('/'));
    assert.equal((await client.readResponse()).status, 200);
  }));
});

describe('framing', () => {
  test('Transfer-Encoding: chunked → 411 and close', T, () => withServer(testApp(), LIMITS, async (server) => {
    await expectRefused(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 411);
  }));

  test('Transfer-Encoding: gzip → 501 and close', T, () => withServer(testApp(), LIMITS, async (server) => {
    await expectRefused(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n', 501);
  }));

  test('Transfer-Encoding and Content-Length together → 400 and close', T, () => withServer(testApp(), LIMITS, async (server) => {
    await expectRefused(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 400);
    await expectRefused(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello', 400);
  }));

  test('invalid or conflicting Content-Length → 400 and close', T, () => withServer(testApp(), LIMITS, async (server) => {
    await expectRefused(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n', 400);
    await expectRefused(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', 400);
    await expectRefused(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0x10\r\n\r\n', 400);
  }));

  const malformed: [string, string][] = [
    ['an extra space in the request line', 'GET  / HTTP/1.1\r\nHost: t\r\n\r\n'],
    ['a request line without version', 'GET /\r\nHost: t\r\n\r\n'],
    ['a method that is not a token', 'G(T / HTTP/1.1\r\nHost: t\r\n\r\n'],
    ['a lower-case version', 'GET / http/1.1\r\nHost: t\r\n\r\n'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost: t\r\nX-A : 1\r\n\r\n'],
    ['obs-fold (a continuation line)', 'GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n  continued\r\n\r\n'],
    ['obs-fold that looks like a field', 'GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\tX-B: 2\r\n\r\n'],
    ['a bare CR in a field value', 'GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\rX-B: 2\r\n\r\n'],
    ['a bare CR in the request line', 'GET /\r HTTP/1.1\r\nHost: t\r\n\r\n'],
    ['a NUL in a field value', 'GET / HTTP/1.1\r\nHost: t\r\nX-A: a\u0000b\r\n\r\n'],
    ['a NUL in the target', 'GET /a\u0000b HTTP/1.1\r\nHost: t\r\n\r\n'],
    ['a field without colon', 'GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n'],
    ['a missing Host on HTTP/1.1', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n'],
    ['two Host fields', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
  ];
  for (const [what, raw] of malformed) {
    test(`${what} → 400 and close`, T, async () => {
      const { app, handled } = countingApp();
      await withServer(app, LIMITS, async (server) => {
        await expectRefused(server, raw, 400);
        assert.equal(handled(), 0);
      });
    });
  }

  test('HTTP/1.0 without Host is fine', T, () => withServer(testApp(), LIMITS, async (server) => {
    const { response } = await exchange(server, 'GET / HTTP/1.0\r\n\r\n');
    assert.equal(response.status, 200);
  }));

  test('HTTP/2.0 → 505 and close', T, () => withServer(testApp(), LIMITS, async (server) => {
    const { response } = await expectRefused(server, 'GET / HTTP/2.0\r\nHost: t\r\n\r\n', 505);
    assert.equal(response.text, 'HTTP Version Not Supported');
    assert.match(response.head, /^HTTP\/1\.1 505 /);
  }));

  test('an error after a good pipelined request: the good one is answered first', T, () => withServer(testApp(), LIMITS, async (server) => {
    const client = await server.client();
    await client.write(get('/hello/ok') + 'GET / HTTP/1.1\r\nHost: t\r\nX-A : bad\r\n\r\n' + get('/hello/never'));
    assert.equal((await client.readResponse()).text, 'Hello, ok!');
    const refused = await client.readResponse();
    assert.equal(refused.status, 400);
    assert.equal(refused.header('connection'), 'close');
    await client.waitEnd(1000);
    assert.equal(client.pending.length, 0, 'the request after the bad one is not answered');
  }));

  test('empty lines before a request line are ignored (RFC 9112 §2.2)', T, () => withServer(testApp(), LIMITS, async (server) => {
    const { response } = await exchange(server, `\r\n\r\n${get('/')}`);
    assert.equal(response.status, 200);
  }));
});

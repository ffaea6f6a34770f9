/**
 * The HTTP core over real sockets on the Node host: `fetch` for what a browser-like client sees,
 * raw `node:net` sockets for keep-alive, pipelining, split writes and `100 Continue`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { exchange, get, RawClient, sleep, startServer, streamPiece, testApp, waitFor, withServer, type RawResponse } from './helpers';
import { Response } from '../../modules/http/response';

const T = { timeout: 5000 };

describe('fetch', () => {
  test('GET answers text with its Content-Type and Content-Length', T, () => withServer(testApp(), {}, async ({ url }) => {
    const response = await fetch(`${url}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(response.headers.get('content-length'), '13');
    assert.equal(await response.text(), 'Hello, World!');
  }));

  test('POST with a JSON body', T, () => withServer(testApp(), {}, async ({ url }) => {
    const sent = { name: 'Zoë', list: [1, 2, 3], nested: { ok: true } };
    const response = await fetch(`${url}/json`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(sent) });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/json');
    assert.deepEqual(await response.json(), { json: sent });
  }));

  test('POST with an urlencoded form body', T, () => withServer(testApp(), {}, async ({ url }) => {
    const response = await fetch(`${url}/form`, { method: 'POST', body: new URLSearchParams({ user: 'ann smith', note: 'a&b=c', emoji: '☃' }) });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { form: { user: 'ann smith', note: 'a&b=c', emoji: '☃' } });
  }));

  test('query arguments, repeated and percent-encoded', T, () => withServer(testApp(), {}, async ({ url }) => {
    const response = await fetch(`${url}/args?a=1&a=2&b=x%20y%26z`);
    assert.deepEqual(await response.json(), { a: ['1', '2'], b: 'x y&z' });
    assert.deepEqual(await (await fetch(`${url}/args`)).json(), { a: [], b: null });
  }));

  test('path parameters: <name>, <int:>, <path:>', T, () => withServer(testApp(), {}, async ({ url }) => {
    assert.equal(await (await fetch(`${url}/hello/J%C3%BCrgen`)).text(), 'Hello, Jürgen!');
    assert.deepEqual(await (await fetch(`${url}/users/42`)).json(), { id: 42, type: 'number' });
    assert.deepEqual(await (await fetch(`${url}/users/-7`)).json(), { id: -7, type: 'number' });
    const notInt = await fetch(`${url}/users/abc`);
    assert.equal(notInt.status, 404);
    await notInt.arrayBuffer();
    assert.deepEqual(await (await fetch(`${url}/files/docs/a/b.txt`)).json(), { rest: 'docs/a/b.txt' });
    const empty = await fetch(`${url}/files/`);
    assert.equal(empty.status, 404);
    await empty.arrayBuffer();
  }));

  test('unknown path → 404', T, () => withServer(testApp(), {}, async ({ url }) => {
    const response = await fetch(`${url}/no/such/page`);
    assert.equal(response.status, 404);
    assert.equal(await response.text(), 'Not Found');
  }));

  test('known path, other method → 405 with Allow', T, () => withServer(testApp(), {}, async ({ url }) => {
    const post = await fetch(`${url}/only-get`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.arrayBuffer();
    const del = await fetch(`${url}/items`, { method: 'DELETE' });
    assert.equal(del.status, 405);
    assert.equal(del.headers.get('allow'), 'GET, PUT, HEAD');
    await del.arrayBuffer();
  }));

  test('HEAD: headers of the GET, Content-Length kept, no body', T, () => withServer(testApp(), {}, async (server) => {
    const response = await fetch(`${server.url}/`, { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-length'), '13');
    assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal((await response.arrayBuffer()).byteLength, 0);
    // On the wire: not one body byte follows the head, so a GET after it on the same connection parses cleanly.
    const { response: head, client } = await exchange(server, 'HEAD / HTTP/1.1\r\nHost: t\r\n\r\n', { noBody: true });
    assert.equal(head.header('content-length'), '13');
    await sleep(30);
    assert.equal(client.pending.length, 0, 'no body bytes after the HEAD response');
    await client.write(get('/'));
    assert.equal((await client.readResponse()).text, 'Hello, World!');
  }));

  test('a 200 KB streamed (chunked) response arrives complete and in order', T, () => withServer(testApp(), {}, async ({ url }) => {
    const response = await fetch(`${url}/stream/200`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('transfer-encoding'), 'chunked');
    assert.equal(response.headers.get('content-length'), null);
    const body = await response.text();
    assert.equal(body.length, 200_000);
    let expected = '';
    for (let i = 0; i < 200; i++) expected += streamPiece(i, 1000);
    assert.ok(body === expected, 'streamed body differs from what the generator yielded');
  }));

  test('redirects: 302 with Location, 303 after POST, followed by fetch', T, () => withServer(testApp(), {}, async ({ url }) => {
    const manual = await fetch(`${url}/redirect`, { redirect: 'manual' });
    assert.equal(manual.status, 302);
    assert.equal(manual.headers.get('location'), '/target');
    assert.equal(manual.headers.get('content-length'), '0');
    await manual.arrayBuffer();
    const afterPost = await fetch(`${url}/redirect-after-post`, { method: 'POST', body: 'x', redirect: 'manual' });
    assert.equal(afterPost.status, 303);
    assert.equal(afterPost.headers.get('location'), '/done');
    await afterPost.arrayBuffer();
    const followed = await fetch(`${url}/redirect`);
    assert.equal(followed.status, 404);
    assert.equal(followed.url, `${url}/target`);
    await followed.arrayBuffer();
  }));

  test('Set-Cookie: one field per cookie, with every attribute', T, () => withServer(testApp(), {}, async ({ url }) => {
    const response = await fetch(`${url}/cookie`);
    assert.equal(await response.text(), 'set');
    assert.deepEqual(response.headers.getSetCookie(), [
      'sid=abc123; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict',
      'theme=dark; Expires=Tue, 01 Jan 2030 00:00:00 GMT; SameSite=Lax',
    ]);
  }));

  test('a handler exception → 500 with a generic body; the error goes to the runtime log', T, () => withServer(testApp(), {}, async ({ url, logs }) => {
    const response = await fetch(`${url}/boom`);
    assert.equal(response.status, 500);
    const body = await response.text();
    assert.equal(body, 'Internal Server Error');
    assert.doesNotMatch(body, /hunter2|secret|Error:|at /);
    for (const [name, value] of response.headers) assert.doesNotMatch(`${name}: ${value}`, /hunter2|secret/);
    const errors = logs.filter((line) => line.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /^GET \/boom: unhandled Error: secret-db-password=hunter2/);
    assert.match(errors[0].message, /\n\s+at /, 'the stack is logged (server side only)');
    // The connection survives a handler error.
    assert.equal((await fetch(`${url}/`)).status, 200);
  }));
});

describe('raw sockets', () => {
  test('keep-alive: two requests, one after the other, on one socket', T, () => withServer(testApp(), {}, async (server) => {
    const { response: first, client } = await exchange(server, get('/hello/one'));
    assert.equal(first.text, 'Hello, one!');
    assert.equal(first.header('connection'), undefined, 'HTTP/1.1 keeps the connection by default');
    await client.write(get('/hello/two'));
    const second = await client.readResponse();
    assert.equal(second.text, 'Hello, two!');
    assert.equal(client.ended, false);
    assert.equal(server.server.connectionCount, 1);
  }));

  test('a client that half-closes after its request still gets the response', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    client.socket.end(get('/hello/half'));
    const response = await client.readResponse();
    assert.equal(response.text, 'Hello, half!');
    // The response may leave before the FIN is seen (then without Connection: close); either way the server closes.
    await client.waitEnd(1000);
    await waitFor(() => server.server.connectionCount === 0, 1000, 'connectionCount 0');
  }));

  test('a half-closed client gets every pipelined response, in full, then the close (issue 12 item 9)', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    let raw = '';
    for (let i = 0; i < 20; i++) raw += get(`/bytes/${3000 + i}`);
    // shutdown(SHUT_WR): the FIN follows the requests at once, before any response is written.
    client.socket.end(raw);
    for (let i = 0; i < 20; i++) {
      const response = await client.readResponse();
      assert.equal(response.status, 200);
      assert.equal(response.body.length, 3000 + i, `response ${i}`);
    }
    await client.waitEnd(1000);
    assert.equal(client.pending.length, 0);
    await waitFor(() => server.server.connectionCount === 0, 1000, 'connectionCount 0');
  }));

  test('a half-closed client gets a 100 KB response whole, fixed-length or streamed (issue 12 item 9)', T, () => withServer(testApp(), { sendTimeout: 2000 }, async (server) => {
    for (const [path, length] of [['/bytes/102400', 102_400], ['/stream/103', 103_000]] as const) {
      const client = await server.client();
      client.socket.end(get(path));
      const response = await client.readResponse({ ms: 5000 });
      assert.equal(response.body.length, length, path);
      if (path.startsWith('/stream')) for (let i = 0; i < 103; i++) assert.equal(response.text.slice(i * 1000, (i + 1) * 1000), streamPiece(i, 1000));
      await client.waitEnd(1000);
    }
  }));

  test('a client that half-closes in the middle of a request: closed at once, no 408 later', T, () => withServer(testApp(), { requestTimeout: 2000 }, async (server) => {
    const client = await server.client();
    const sent = performance.now();
    client.socket.end('GET /hello/x HTTP/1.1\r\nHost: t\r\n');
    await client.waitEnd(1000);
    assert.ok(performance.now() - sent < 1000);
    assert.equal(client.pending.length, 0, 'nothing answered to a request that cannot complete');
  }));

  test('a before hook guarding /admin sees every spelling of it: escaped, dot segments (issue 12 item 12)', T, async () => {
    const app = testApp();
    app.before((request) => (request.path.startsWith('/admin') ? new Response('admins only', 403) : undefined));
    app.get('/admin/secret', () => 'secret');
    app.get('/public/<path:rest>', (request) => String(request.params.rest));
    await withServer(app, {}, async (server) => {
      for (const path of ['/admin/secret', '/%61dmin/secret', '/%61%64%6d%69%6e/secret', '/public/../admin/secret', '/public/%2e%2e/admin/secret', '/public%2F..%2Fadmin/secret']) {
        const { response } = await exchange(server, get(path));
        assert.equal(response.status, 403, path);
        assert.equal(response.text, 'admins only');
      }
      assert.equal((await exchange(server, get('/public/a/./b'))).response.text, 'a/b');
    });
  });

  test('Connection: close is honoured', T, () => withServer(testApp(), {}, async (server) => {
    const { response, client } = await exchange(server, get('/', 'Connection: close\r\n'));
    assert.equal(response.status, 200);
    assert.equal(response.header('connection'), 'close');
    await client.waitEnd(1000);
    assert.equal(client.pending.length, 0);
    await waitFor(() => server.server.connectionCount === 0, 1000, 'connectionCount 0');
  }));

  test('HTTP/1.0 closes by default', T, () => withServer(testApp(), {}, async (server) => {
    const { response, client } = await exchange(server, 'GET / HTTP/1.0\r\n\r\n');
    assert.equal(response.status, 200);
    assert.equal(response.text, 'Hello, World!');
    assert.equal(response.header('connection'), 'close');
    await client.waitEnd(1000);
  }));

  test('HTTP/1.0 with Connection: keep-alive stays open', T, () => withServer(testApp(), {}, async (server) => {
    const { response, client } = await exchange(server, 'GET /hello/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    assert.equal(response.text, 'Hello, a!');
    assert.equal(response.header('connection'), 'keep-alive');
    await client.write('GET /hello/b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n');
    const second = await client.readResponse();
    assert.equal(second.text, 'Hello, b!');
    assert.equal(client.ended, false);
    await client.write('GET /hello/c HTTP/1.0\r\n\r\n');
    assert.equal((await client.readResponse()).header('connection'), 'close');
    await client.waitEnd(1000);
  }));

  test('pipelining: 3 requests in one write are answered in order', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    await client.write(
      get('/hello/first') +
      'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nsecond' +
      get('/hello/third', 'Connection: close\r\n'));
    const responses = [await client.readResponse(), await client.readResponse(), await client.readResponse()];
    assert.deepEqual(responses.map((r) => r.text), ['Hello, first!', 'second', 'Hello, third!']);
    assert.equal(responses[2].header('connection'), 'close');
    await client.waitEnd(1000);
    assert.equal(client.pending.length, 0);
  }));

  test('a request written one byte at a time gets the same response', T, () => withServer(testApp(), { requestTimeout: 5000 }, async (server) => {
    const raw = 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world';
    const { response: whole } = await exchange(server, raw);
    assert.equal(whole.text, 'hello world');
    const client = await server.client();
    for (let i = 0; i < raw.length; i++) {
      await client.write(raw[i]);
      await sleep(1); // each byte arrives in its own read
    }
    assert.deepEqual(summary(await client.readResponse()), summary(whole));
  }));

  test('a request split at every byte boundary gets the same response', T, () => withServer(testApp(), { requestTimeout: 5000, maxRequestsPerConnection: 10_000 }, async (server) => {
    // Two requests back to back, so the splits also fall between the body and the next request line.
    const raw = 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde' + get('/hello/x');
    const client = await server.client();
    await client.write(raw);
    const expected = [summary(await client.readResponse()), summary(await client.readResponse())];
    assert.deepEqual(expected.map((r) => r.text), ['abcde', 'Hello, x!']);
    for (let split = 1; split < raw.length; split++) {
      await client.write(raw.slice(0, split));
      await sleep(1);
      await client.write(raw.slice(split));
      const got = [summary(await client.readResponse()), summary(await client.readResponse())];
      assert.deepEqual(got, expected, `split at byte ${split}`);
    }
    assert.equal(client.ended, false);
  }));

  test('Expect: 100-continue gets 100 Continue before the body is sent, then the final response', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    await client.write('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    const interim = await client.readResponse();
    assert.equal(interim.head, 'HTTP/1.1 100 Continue');
    await sleep(30);
    assert.equal(client.pending.length, 0, 'nothing but the 100 before the body');
    await client.write('hello');
    const final = await client.readResponse();
    assert.equal(final.status, 200);
    assert.equal(final.text, 'hello');
    // The next request on the connection gets its own 100.
    await client.write('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n');
    assert.equal((await client.readResponse()).status, 100);
    await client.write('abc');
    assert.equal((await client.readResponse()).text, 'abc');
  }));

  test('Expect: 100-continue with a body over maxBody → 413 without 100, then close', T, () => withServer(testApp(), { maxBody: 1024 }, async (server) => {
    const { response, client } = await exchange(server, 'POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\nExpect: 100-continue\r\n\r\n');
    assert.equal(response.status, 413);
    assert.equal(response.header('connection'), 'close');
    await client.waitEnd(1000);
    assert.equal(client.pending.length, 0);
    // …while exactly maxBody is accepted.
    const client2 = await server.client();
    await client2.write('POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\nExpect: 100-continue\r\n\r\n');
    assert.equal((await client2.readResponse()).status, 100);
    await client2.write('z'.repeat(1024));
    assert.equal((await client2.readResponse()).text.length, 1024);
  }));
});

describe('responses and connections', () => {
  test('HTTP/1.0: a streamed response is delimited by close, without Transfer-Encoding', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    await client.write('GET /stream/3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await client.waitEnd(1000);
    const response = await client.readResponse();
    assert.equal(response.status, 200);
    assert.equal(response.header('transfer-encoding'), undefined, 'HTTP/1.0 has no chunked coding (RFC 9112 §6.1)');
    assert.equal(response.header('content-length'), undefined);
    assert.equal(response.header('connection'), 'close');
    assert.equal(response.text, streamPiece(0, 1000) + streamPiece(1, 1000) + streamPiece(2, 1000));
  }));

  test('keep-alive after a chunked response, and HEAD of a streamed route', T, () => withServer(testApp(), {}, async (server) => {
    const { response, client } = await exchange(server, get('/stream/3'));
    assert.equal(response.header('transfer-encoding'), 'chunked');
    assert.equal(response.body.length, 3000);
    await client.write('HEAD /stream/3 HTTP/1.1\r\nHost: t\r\n\r\n');
    const head = await client.readResponse({ noBody: true });
    assert.equal(head.status, 200);
    await client.write(get('/async-stream'));
    assert.equal((await client.readResponse()).text, 'part 0;part 1;part 2;part 3;part 4;');
    assert.equal(client.ended, false);
  }));

  test('a streamed body that fails midway: no terminating chunk, connection cut, error logged', T, () => withServer(testApp(), {}, async (server) => {
    const client = await server.client();
    await client.write(get('/broken-stream'));
    await client.waitEnd(1000);
    const raw = client.pending.toString('latin1');
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(raw, /\r\n\r\n6\r\nfirst;\r\n7\r\nsecond;\r\n$/, 'no 0-size last chunk: the client can tell the body is incomplete');
    assert.doesNotMatch(raw, /disk read failed/);
    assert.deepEqual(server.logs.map((l) => [l.level, l.message]), [['error', 'xsdot: streamed body failed: disk read failed']]);
    assert.equal(server.server.connectionCount, 0);
  }));

  test('maxRequestsPerConnection: the last allowed response says Connection: close', T, () => withServer(testApp(), { maxRequestsPerConnection: 3 }, async (server) => {
    const client = await server.client();
    for (let i = 1; i <= 3; i++) {
      await client.write(get(`/hello/${i}`));
      const response = await client.readResponse();
      assert.equal(response.text, `Hello, ${i}!`);
      assert.equal(response.header('connection'), i === 3 ? 'close' : undefined);
    }
    await client.waitEnd(1000);
  }));

  test('50 pipelined requests in one write, more than the head allowance, all answered in order', T, () => withServer(testApp(), { maxRequestLine: 256, maxHeaderBytes: 512 }, async (server) => {
    const client = await server.client();
    let raw = '';
    for (let i = 0; i < 50; i++) raw += get(`/hello/${i}`, 'Accept: */*\r\n');
    assert.ok(raw.length > 256 + 512 + 4);
    await client.write(raw);
    for (let i = 0; i < 50; i++) assert.equal((await client.readResponse()).text, `Hello, ${i}!`);
    assert.equal(client.ended, false);
  }));

  test('absolute-form targets are understood', T, () => withServer(testApp(), {}, async (server) => {
    const { response } = await exchange(server, 'GET http://example.test/args?b=abs HTTP/1.1\r\nHost: example.test\r\n\r\n');
    assert.deepEqual(JSON.parse(response.text), { a: [], b: 'abs' });
  }));

  test('a bare LF in a head gets 400 and close, and the request it hid is never answered (issue 15)', T, () => withServer(testApp(), {}, async (server) => {
    const smuggled = 'GET /hello/first HTTP/1.1\r\nHost: t\r\nDummy: x\nContent-Length: 23\r\n\r\nGET / HTTP/1.1\r\nDummy: GET /hello/admin HTTP/1.1\r\nHost: t\r\n\r\n';
    // On a keep-alive connection after a good request too: the error ends that connection.
    const { response: first, client } = await exchange(server, get('/hello/ok'));
    assert.equal(first.text, 'Hello, ok!');
    await client.write(smuggled);
    const refused = await client.readResponse();
    assert.equal(refused.status, 400);
    assert.equal(refused.header('connection'), 'close');
    await client.waitEnd(1000);
    assert.equal(client.pending.length, 0, 'nothing after the 400');
    // Bare LF line ends only: refused as soon as the first one arrives.
    const { response: lfOnly } = await exchange(server, 'GET /hello/lf HTTP/1.1\nHost: t\n');
    assert.equal(lfOnly.status, 400);
  }));

  test('a handler slower than requestTimeout is not answered 408', T, () => withServer(testApp(), {}, async (server) => {
    const { response } = await exchange(server, get('/slow/450'), { ms: 2000 });
    assert.equal(response.status, 200);
    assert.equal(response.text, 'slow');
  }));

  test('server.close() stops listening and closes open connections', T, async () => {
    const server = await startServer(testApp());
    try {
      const { client } = await exchange(server, get('/'));
      const idle = await server.client();
      await waitFor(() => server.server.connectionCount === 2, 500, 'two connections');
      server.server.close();
      await client.waitEnd(1000);
      await idle.waitEnd(1000);
      assert.equal(server.server.connectionCount, 0);
      await assert.rejects(RawClient.connect(server.port), /ECONNREFUSED/);
    } finally {
      server.close();
    }
  });
});

/** What must not change however a request is split: status, head and body. */
function summary(response: RawResponse): { head: string; text: string } {
  return { head: response.head, text: response.text };
}

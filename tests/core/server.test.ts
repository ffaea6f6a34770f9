import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { latin1, latin1Bytes } from '../../modules/http/bytes';
import { App } from '../../modules/http/index';
import { MemoryPeer, MemoryTCP } from '../../modules/http/memory-socket';
import { TestClient } from '../../modules/http/testclient';
import { runtime } from '../../modules/runtime';

function app(): App {
  const a = new App();
  a.get('/', () => 'home');
  a.post('/echo', (req) => req.text);
  a.get('/big', () => 'x'.repeat(10_000));
  return a;
}

const fast = { requestTimeout: 60, idleTimeout: 60, sendTimeout: 60 };

/** Status codes of the responses in a raw byte stream, in order (a loop: XS's matchAll spread came back empty). */
function statuses(out: string): string[] {
  const found: string[] = [];
  const pattern = /HTTP\/1\.1 (\d{3}) /g;
  for (let match = pattern.exec(out); match !== null; match = pattern.exec(out)) found.push(match[1]);
  return found;
}

test('pipelined requests are answered in order on one connection', async () => {
  const client = new TestClient(app(), { limits: fast });
  const out = latin1(await client.exchange(
    'GET / HTTP/1.1\r\nHost: d\r\n\r\n' +
    'POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\n\r\nabc' +
    'GET /nope HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n'));
  assert.deepEqual(statuses(out), ['200', '200', '404']);
  assert.ok(out.indexOf('home') < out.indexOf('abc'));
  assert.match(out, /Connection: close\r\n\r\nNot Found$/);
});

test('a large body is written in socket-sized pieces', async () => {
  const response = await new TestClient(app()).get('/big');
  assert.equal(response.body.length, 10_000);
});

test('HTTP/1.0 gets Connection: close, or keep-alive when it asks', async () => {
  const client = new TestClient(app(), { limits: fast });
  assert.match(latin1(await client.exchange('GET / HTTP/1.0\r\n\r\n')), /Connection: close/);
  const kept = latin1(await client.exchange('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n'));
  assert.deepEqual(statuses(kept), ['200', '200']);
  assert.match(kept, /Connection: keep-alive/);
});

test('Expect: 100-continue gets an interim 100, or the limit status without it', async () => {
  const client = new TestClient(app(), { limits: { ...fast, maxBody: 10 } });
  const ok = latin1(await client.exchange('POST /echo HTTP/1.1\r\nHost: d\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n'));
  assert.match(ok, /^HTTP\/1\.1 100 Continue\r\n\r\n/);
  const big = latin1(await client.exchange('POST /echo HTTP/1.1\r\nHost: d\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n'));
  assert.match(big, /^HTTP\/1\.1 413 /);
  assert.doesNotMatch(big, /100 Continue/);
});

test('limit violations answer their status and close', async () => {
  const client = new TestClient(app(), { limits: { ...fast, maxRequestLine: 40, maxHeaderBytes: 100, maxHeaders: 3, maxBody: 8 } });
  const cases: [string, number][] = [
    [`GET /${'a'.repeat(60)} HTTP/1.1\r\n`, 414],
    [`GET / HTTP/1.1\r\nHost: d\r\nX: ${'y'.repeat(120)}\r\n\r\n`, 431],
    ['GET / HTTP/1.1\r\nHost: d\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n', 431],
    ['POST /echo HTTP/1.1\r\nHost: d\r\nContent-Length: 9\r\n\r\n123456789', 413],
    ['POST /echo HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n', 411],
    ['GET / HTTP/3.0\r\nHost: d\r\n\r\n', 505],
    ['\x16\x03\x01\x02\x00 binary\r\n\r\n', 400],
  ];
  for (const [raw, status] of cases) {
    const out = latin1(await client.exchange(raw));
    assert.match(out, new RegExp(`^HTTP/1\\.1 ${status} `), JSON.stringify(raw));
    assert.match(out, /Connection: close/);
  }
  assert.equal(client.server.connectionCount, 0);
});

test('a bare LF hiding a second request: 400 and close, after the requests before it (issue 15)', async () => {
  const a = app();
  a.get('/admin', () => 'admin secrets');
  const client = new TestClient(a, { limits: fast });
  const out = latin1(await client.exchange(
    'GET / HTTP/1.1\r\nHost: d\r\n\r\n' +
    'GET / HTTP/1.1\r\nHost: localhost\r\nDummy: x\nContent-Length: 23\r\n\r\nGET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n'));
  assert.deepEqual(statuses(out), ['200', '400']);
  assert.match(out, /Connection: close\r\n\r\nBare LF in head$/);
  assert.doesNotMatch(out, /admin secrets/);
  assert.equal(client.server.connectionCount, 0);
});

/** Sends `raw` then half-closes (a FIN) before the server reads anything; every byte the server wrote. */
async function halfClosed(client: TestClient, raw: string): Promise<string> {
  const peer = new MemoryPeer();
  peer.send(latin1Bytes(raw));
  peer.shutdown();
  client.server.accept(MemoryTCP, peer);
  await peer.done;
  return latin1(peer.head);
}

test('a half-closed client gets every complete request answered, in full, then the close (issue 12 item 9)', async () => {
  const a = app();
  a.get('/large', () => 'y'.repeat(100 * 1024));
  const client = new TestClient(a, { limits: { ...fast, sendTimeout: 5000 } });
  const pipelined = await halfClosed(client, 'GET / HTTP/1.1\r\nHost: d\r\n\r\n'.repeat(20));
  assert.deepEqual(statuses(pipelined), new Array<string>(20).fill('200'));
  assert.ok(pipelined.endsWith('home'));
  const large = await halfClosed(client, 'GET /large HTTP/1.1\r\nHost: d\r\n\r\n');
  assert.ok(large.endsWith(`\r\n\r\n${'y'.repeat(100 * 1024)}`), `${large.length} bytes`);
  // What cannot complete any more is dropped without an answer (and without waiting for a 408).
  const started = runtime().monotonic();
  assert.deepEqual(statuses(await halfClosed(client, 'GET / HTTP/1.1\r\nHost: d\r\n\r\nGET / HTTP/1.1\r\nHo')), ['200']);
  assert.ok(runtime().monotonic() - started < fast.requestTimeout);
  assert.equal(client.server.connectionCount, 0);
});

test('a stalled request gets 408 after requestTimeout; an idle connection closes quietly', async () => {
  const client = new TestClient(app(), { limits: fast });
  const started = runtime().monotonic();
  assert.match(latin1(await client.exchange('GET / HTTP/1.1\r\nHost: d\r\n')), /^HTTP\/1\.1 408 /);
  assert.ok(runtime().monotonic() - started >= 50);
  assert.equal((await client.exchange('')).length, 0);
  const afterOne = latin1(await client.exchange('GET / HTTP/1.1\r\nHost: d\r\n\r\n'));
  assert.deepEqual(statuses(afterOne), ['200'], 'keep-alive connection closed after idleTimeout');
});

test('connections over the cap get 503 with Retry-After; slots free up again', async () => {
  const client = new TestClient(app(), { limits: { ...fast, maxConnections: 2 }, retryAfter: 3 });
  const held = [client.exchange('GET / HTTP/1.1\r\n'), client.exchange('GET / HTTP/1.1\r\n')];
  const refused = latin1(await client.exchange('GET / HTTP/1.1\r\nHost: d\r\n\r\n'));
  assert.match(refused, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.match(refused, /Retry-After: 3\r\n/);
  for (const out of await Promise.all(held)) assert.match(latin1(out), /^HTTP\/1\.1 408 /);
  assert.equal(client.server.connectionCount, 0);
  assert.equal((await client.get('/')).text, 'home');
});

test('maxRequestsPerConnection closes a busy keep-alive connection', async () => {
  const client = new TestClient(app(), { limits: { ...fast, maxRequestsPerConnection: 2 } });
  const out = latin1(await client.exchange('GET / HTTP/1.1\r\nHost: d\r\n\r\n'.repeat(3)));
  assert.deepEqual(statuses(out), ['200', '200']);
  assert.match(out, /Connection: close/);
});

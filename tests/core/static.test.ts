/**
 * Static files (modules/http/static.ts) through the whole server path, on Node and XS: content types,
 * Content-Length framing in pieces, ETag/If-None-Match and Last-Modified/If-Modified-Since → 304,
 * Cache-Control, HEAD, gzip variants by Accept-Encoding (q-values), 404/405; and a property (fast-check):
 * no request path, however encoded, reaches a name outside the source's table or an unsafe name.
 */
import '../support/install-host';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { App } from '../../modules/http/app';
import { acceptsGzip, httpDate, memoryFiles, parseHttpDate, safeName, sendFile, staticFiles, type StaticSource } from '../../modules/http/static';
import { TestClient } from '../../modules/http/testclient';
import { fuzzRuns, fuzzSeed, Tally } from '../support/fuzz';

const tally = new Tally('Static file name fuzzing');
after(() => tally.print());

const CSS = 'body{color:#222}'.repeat(200);
const GZ = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]);

function app(source: StaticSource = memoryFiles({ 'style.css': CSS, 'style.css.gz': GZ, 'js/app.js': 'x()', 'logo.svg': '<svg/>' })): App {
  const a = new App();
  a.get('/static/<path:name>', staticFiles(source, { cacheControl: 'max-age=60', pieceSize: 512 }));
  a.get('/file', (request) => sendFile(request, source, 'js/app.js'));
  return a;
}

test('a file: 200 with its type, length, ETag and Cache-Control, streamed in pieces; HEAD the same head', async () => {
  const client = new TestClient(app());
  const response = await client.get('/static/style.css');
  assert.equal(response.status, 200);
  assert.equal(response.text, CSS);
  assert.equal(response.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.equal(response.headers.get('content-length'), String(CSS.length));
  assert.equal(response.headers.get('transfer-encoding'), undefined);
  assert.equal(response.headers.get('cache-control'), 'max-age=60');
  assert.equal(response.headers.get('vary'), 'Accept-Encoding');
  assert.match(response.headers.get('etag') ?? '', /^"[0-9a-f]{16}"$/);
  const head = await client.head('/static/style.css');
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers.get('content-length'), String(CSS.length));
  assert.equal((await client.get('/static/js/app.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal((await client.get('/static/logo.svg')).headers.get('vary'), undefined);
  assert.equal((await client.get('/file')).text, 'x()');
});

test('If-None-Match (weak comparison, lists, *) and If-Modified-Since give 304 without a body', async () => {
  const client = new TestClient(app());
  const etag = (await client.get('/static/style.css')).headers.get('etag') as string;
  for (const match of [etag, `W/${etag}`, `"x", ${etag}`, '*']) {
    const response = await client.get('/static/style.css', { headers: { 'If-None-Match': match } });
    assert.equal(response.status, 304, match);
    assert.equal(response.body.length, 0);
    assert.equal(response.headers.get('etag'), etag);
    assert.equal(response.headers.get('cache-control'), 'max-age=60');
  }
  assert.equal((await client.get('/static/style.css', { headers: { 'If-None-Match': '"other"' } })).status, 200);
  // Memory files have no modification time: If-Modified-Since alone never matches.
  assert.equal((await client.get('/static/style.css', { headers: { 'If-Modified-Since': httpDate(Date.now()) } })).status, 200);
  const dated: StaticSource = {
    open: (name) => (name === 'a.txt' ? { size: 1, etag: '"1"', modified: Date.UTC(2025, 0, 2, 3, 4, 5, 600), gzip: false, hasGzip: false, read: () => new Uint8Array([65]), close() {} } : undefined),
  };
  const datedClient = new TestClient(app(dated));
  const first = await datedClient.get('/static/a.txt');
  assert.equal(first.headers.get('last-modified'), 'Thu, 02 Jan 2025 03:04:05 GMT');
  assert.equal((await datedClient.get('/static/a.txt', { headers: { 'If-Modified-Since': 'Thu, 02 Jan 2025 03:04:05 GMT' } })).status, 304);
  assert.equal((await datedClient.get('/static/a.txt', { headers: { 'If-Modified-Since': 'Thu, 02 Jan 2025 03:04:04 GMT' } })).status, 200);
  // If-None-Match wins over If-Modified-Since.
  assert.equal((await datedClient.get('/static/a.txt', { headers: { 'If-None-Match': '"2"', 'If-Modified-Since': 'Thu, 02 Jan 2025 03:04:05 GMT' } })).status, 200);
});

test('gzip variants: sent when Accept-Encoding takes gzip, with Content-Encoding and their own ETag', async () => {
  const client = new TestClient(app());
  const plain = await client.get('/static/style.css');
  const gz = await client.get('/static/style.css', { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
  assert.equal(gz.headers.get('content-encoding'), 'gzip');
  assert.equal(gz.headers.get('content-type'), 'text/css; charset=utf-8');
  assert.deepEqual([...gz.body], [...GZ]);
  assert.notEqual(gz.headers.get('etag'), plain.headers.get('etag'));
  assert.equal(gz.headers.get('vary'), 'Accept-Encoding');
  for (const refused of ['gzip;q=0', 'br', 'identity', '*;q=0', 'gzip;q=0, *']) {
    assert.equal((await client.get('/static/style.css', { headers: { 'Accept-Encoding': refused } })).headers.get('content-encoding'), undefined, refused);
  }
  assert.equal(acceptsGzip('*'), true);
  assert.equal(acceptsGzip('gzip;q=0.001'), true);
  assert.equal(acceptsGzip('gzip;q=2'), false);
});

test('unknown, unsafe and non-GET: 404 and 405', async () => {
  const client = new TestClient(app());
  for (const path of ['/static/nope.css', '/static/style.css.gz.gz', '/static/js', '/static/js/', '/static/%2e%2e/x', '/static/a%5cb', '/static/a:b']) {
    assert.equal((await client.get(path)).status, 404, path);
  }
  assert.equal((await client.post('/static/style.css')).status, 405);
  assert.equal(safeName('a/b.css'), 'a/b.css');
  for (const bad of ['', '/a', 'a//b', 'a/./b', 'a/../b', '..', '.', 'a\\b', 'a\u0000b', 'c:x', 'a/'.repeat(9) + 'b', 'x'.repeat(129)]) {
    assert.equal(safeName(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT'), undefined);
  assert.equal(parseHttpDate(httpDate(784111777000)), 784111777000);
});

test('property: no request path reaches anything but a table name, and the source sees only safe names', async () => {
  const row = tally.row('paths: encoded, dotted, mixed');
  const names = ['style.css', 'js/app.js', 'logo.svg'];
  const seen: string[] = [];
  const table = memoryFiles({ 'style.css': 'a', 'js/app.js': 'b', 'logo.svg': 'c', 'secret.txt': 'NO' });
  const source: StaticSource = {
    open(name, gzip) {
      seen.push(name);
      return name === 'secret.txt' ? undefined : table.open(name, gzip);
    },
  };
  const client = new TestClient(app(source));
  const piece = fc.constantFrom('..', '.', '%2e', '%2E%2e', '%2f', '%2F', '%5c', '\\', '%00', 'js', 'app.js', 'style.css', 'secret.txt', '', '/', '%', '%zz', ':', 'C:', '%3a', '~', 'a');
  await fc.assert(fc.asyncProperty(fc.array(piece, { maxLength: 8 }), fc.boolean(), async (pieces, slash) => {
    row.tried++;
    seen.length = 0;
    const path = `/static/${pieces.join(slash ? '/' : '')}`;
    const response = await client.exchange(`GET ${path.replace(/\\/g, '%5c')} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    const status = Number(String.fromCharCode(...response.subarray(9, 12)));
    tally.saw(status);
    for (const name of seen) {
      assert.equal(safeName(name), name, `the source was asked for ${JSON.stringify(name)}`);
    }
    if (status === 200) {
      assert.ok(names.includes(seen[0]), `served ${JSON.stringify(seen[0])} for ${path}`);
      row.accepted++;
    } else {
      assert.ok(status === 404 || status === 400, `${status} for ${path}`);
      row.rejected++;
    }
  }), { numRuns: fuzzRuns(400, 60), seed: fuzzSeed() });
});

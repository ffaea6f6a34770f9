/**
 * The HTTP server as the login app's users meet it, over raw sockets, on whichever host XSDOT_TARGET
 * names: keep-alive and pipelining, pages larger than one socket write (Moddable's Linux sockets move at
 * most 1536 bytes per 20 ms poll), requests arriving in pieces, every request limit, the timeouts, the
 * connection cap, and clients that vanish mid-response. Limits are set small so each check is quick.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, RawClient, type RawResponse } from './client';
import { sleep, withTarget } from './harness';
import { ON_MODDABLE, REQUEST_MS, TARGET, TIMING_SLACK_MS, type Target } from './targets';

const T = { timeout: ON_MODDABLE ? 60_000 : 30_000 };
const LIMITS = {
  maxRequestLine: 256,
  maxHeaderBytes: 1024,
  maxHeaders: 16,
  maxBody: 2048,
  maxConnections: 4,
  requestTimeout: 1500,
  idleTimeout: 1500,
  sendTimeout: 3000,
};
const R = { ms: REQUEST_MS };

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: device\r\n${extra}\r\n`;
}

async function client(target: Target): Promise<RawClient> {
  return RawClient.connect(target.port);
}

/** Sends `raw` on a fresh connection and reads one response. */
async function exchange(target: Target, raw: string): Promise<{ response: RawResponse; socket: RawClient }> {
  const socket = await client(target);
  await socket.write(raw);
  return { response: await socket.readResponse(R), socket };
}

/** `status` with `Connection: close`, then the server closes and sends nothing more. */
async function expectRefused(target: Target, raw: string, status: number): Promise<RawResponse> {
  const { response, socket } = await exchange(target, raw);
  assert.equal(response.status, status, `expected ${status} for ${JSON.stringify(raw.slice(0, 60))}, got ${response.head}`);
  assert.equal(response.header('connection'), 'close');
  assert.equal(response.header('content-length'), String(response.body.length));
  await socket.waitEnd(REQUEST_MS);
  assert.equal(socket.pending.length, 0, 'nothing after the error response');
  socket.destroy();
  return response;
}

test(`${TARGET}: keep-alive, pipelining and pages larger than one socket write`, T, () => withTarget({ limits: LIMITS }, async (target) => {
  const socket = await client(target);
  for (let i = 0; i < 3; i++) {
    await socket.write(get('/setup'));
    const page = await socket.readResponse(R);
    assert.equal(page.status, 200);
    assert.equal(page.header('content-type'), 'text/html; charset=utf-8');
    assert.equal(page.header('content-length'), String(page.body.length));
    assert.match(page.text, /<\/html>$/);
    assert.equal(page.header('connection'), undefined, 'kept alive');
  }
  // Four requests in one write, answered in order, the answers together more than one Moddable socket write;
  // HEAD gets the GET's headers and no body.
  await socket.write(get('/setup') + get('/setup') + 'HEAD /setup HTTP/1.1\r\nHost: device\r\n\r\n' + get('/api/me'));
  const first = await socket.readResponse(R);
  const page = await socket.readResponse(R);
  assert.ok(first.body.length + page.body.length > 1536, `two setup pages (${first.body.length + page.body.length} bytes) take more than one Moddable socket write`);
  const head = await socket.readResponse({ ...R, noBody: true });
  const api = await socket.readResponse(R);
  assert.equal(page.status, 200);
  assert.equal(head.status, 200);
  assert.equal(head.header('content-length'), page.header('content-length'));
  assert.equal(api.status, 401);
  assert.deepEqual(JSON.parse(api.text), { error: 'setup required' });
  await sleep(100);
  assert.equal(socket.pending.length, 0, 'no body after the HEAD response');
  assert.equal(socket.ended, false);
  socket.destroy();
}));

test(`${TARGET}: a client that half-closes after its requests`, T, () => withTarget({ limits: LIMITS }, async (target) => {
  // One request, then the FIN (`printf … | nc`): the answer still comes, then the close.
  const single = await client(target);
  single.socket.end(get('/api/me'));
  assert.equal((await single.readResponse(R)).status, 401);
  await single.waitEnd(REQUEST_MS);
  single.destroy();

  const socket = await client(target);
  // shutdown(SHUT_WR) right after the requests: a FIN ends the client's input, not its interest in the answers.
  // 30 setup pages (1.2 KB each since the stylesheet is a static file): over 32 KB of answers.
  socket.socket.end(get('/setup').repeat(30));
  const sent = performance.now();
  if (TARGET === 'node') {
    let bytes = 0;
    for (let i = 0; i < 30; i++) {
      const page = await socket.readResponse(R);
      assert.equal(page.status, 200, `response ${i}`);
      assert.match(page.text, /<\/html>$/, `response ${i} whole`);
      bytes += page.body.length;
    }
    assert.ok(bytes > 32_768, `${bytes} bytes of pages`);
    await socket.waitEnd(REQUEST_MS);
    assert.equal(socket.pending.length, 0);
  } else {
    // The SDK's TCP (Linux and lwIP) takes a FIN for an error and grants no more writes (README, Limits):
    // what fits in the last grant is delivered, then the connection closes at once, not at sendTimeout.
    await socket.waitEnd(LIMITS.sendTimeout + TIMING_SLACK_MS);
    const closedAfter = performance.now() - sent;
    assert.ok(closedAfter < LIMITS.sendTimeout, `closed after ${closedAfter.toFixed(0)} ms (sendTimeout ${LIMITS.sendTimeout})`);
  }
  socket.destroy();
  // The slot is free again and the server unharmed.
  const after = await exchange(target, get('/setup'));
  assert.equal(after.response.status, 200);
  after.socket.destroy();
}));

test(`${TARGET}: a request arriving in pieces, and a 2 KB form body, are read whole`, T, () => withTarget({ limits: LIMITS }, async (target) => {
  const raw = get('/api/me', 'Accept: application/json\r\nX-Filler: ' + 'f'.repeat(100) + '\r\n');
  const socket = await client(target);
  for (let i = 0; i < raw.length; i += 7) {
    await socket.write(raw.slice(i, i + 7));
    await sleep(3);
  }
  const response = await socket.readResponse(R);
  assert.equal(response.status, 401);
  assert.deepEqual(JSON.parse(response.text), { error: 'setup required' });
  socket.destroy();

  // The fields the app needs come after 1.6 KB of padding: setup succeeds only if the whole body arrived.
  const browser = new Browser(target.url, REQUEST_MS);
  await browser.get('/setup');
  const body = new URLSearchParams({ pad: 'p'.repeat(1600), csrf_token: browser.token, code: target.setupCode ?? '', password: 'correct horse battery', confirm: 'correct horse battery' }).toString();
  assert.ok(body.length > 1536 && body.length <= LIMITS.maxBody, `body of ${body.length} bytes`);
  const done = await browser.request('POST', '/setup', body, { Origin: target.url });
  assert.equal(done.status, 303);
  assert.equal(done.headers.get('location'), '/login?m=setup');
}));

test(`${TARGET}: request limits and malformed framing answer 414, 431, 413, 411, 400 and 505, then close`, T, () => withTarget({ limits: LIMITS }, async (target) => {
  await expectRefused(target, `GET /${'a'.repeat(300)} HTTP/1.1\r\nHost: device\r\n\r\n`, 414);
  await expectRefused(target, get('/setup', `X-Big: ${'b'.repeat(1100)}\r\n`), 431);
  await expectRefused(target, get('/setup', Array.from({ length: 16 }, (_, i) => `X-H${i}: ${i}\r\n`).join('')), 431);
  // Refused on the head alone: the body is never sent.
  const tooLarge = await expectRefused(target, 'POST /setup HTTP/1.1\r\nHost: device\r\nContent-Length: 2049\r\n\r\n', 413);
  assert.equal(tooLarge.text, 'Content Too Large');
  await expectRefused(target, 'POST /setup HTTP/1.1\r\nHost: device\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', 411);
  await expectRefused(target, 'GET /setup HTTP/1.1\r\nHost: device\r\nX-A: 1\rX-B: 2\r\n\r\n', 400);
  await expectRefused(target, 'GET /setup HTTP/1.1\r\nAccept: */*\r\n\r\n', 400);
  // Issue 15: a bare LF made `Content-Length: 23` count and hid a second request for /admin.
  await expectRefused(target, 'GET /setup HTTP/1.1\r\nHost: device\r\nDummy: x\nContent-Length: 23\r\n\r\nGET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: device\r\n\r\n', 400);
  await expectRefused(target, 'GET /setup HTTP/1.1\nHost: device\n\n', 400);
  await expectRefused(target, 'POST /setup HTTP/1.1\r\nHost: device\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400);
  await expectRefused(target, 'GET /setup HTTP/2.0\r\nHost: device\r\n\r\n', 505);

  // Exactly maxBody is read, answered by the app (403: no CSRF token), and the connection stays usable.
  const { response, socket } = await exchange(target, `POST /setup HTTP/1.1\r\nHost: device\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 2048\r\n\r\n${'x'.repeat(2048)}`);
  assert.equal(response.status, 403);
  assert.equal(response.header('connection'), undefined);
  await socket.write(get('/setup'));
  assert.equal((await socket.readResponse(R)).status, 200);
  socket.destroy();

  // HTTP/1.0 closes after the response.
  const old = await exchange(target, 'GET /setup HTTP/1.0\r\n\r\n');
  assert.equal(old.response.status, 200);
  assert.equal(old.response.header('connection'), 'close');
  await old.socket.waitEnd(REQUEST_MS);
  old.socket.destroy();
}));

test(`${TARGET}: a stalled request gets 408, an idle connection is closed`, T, () => withTarget({ limits: LIMITS }, async (target) => {
  const stalled = await client(target);
  const sent = performance.now();
  await stalled.write('GET /setup HTTP/1.1\r\nHost: device\r\nX-Half: ');
  const timeout = await stalled.readResponse({ ms: LIMITS.requestTimeout + 5000 });
  const elapsed = performance.now() - sent;
  assert.equal(timeout.status, 408);
  assert.equal(timeout.header('connection'), 'close');
  await stalled.waitEnd(REQUEST_MS);
  assert.ok(elapsed >= LIMITS.requestTimeout - 50 && elapsed < LIMITS.requestTimeout + TIMING_SLACK_MS + 500, `408 after ${elapsed.toFixed(0)} ms (requestTimeout ${LIMITS.requestTimeout})`);
  stalled.destroy();

  const { response, socket } = await exchange(target, get('/setup'));
  assert.equal(response.status, 200);
  const answered = performance.now();
  await socket.waitEnd(LIMITS.idleTimeout + 5000);
  const idle = performance.now() - answered;
  assert.ok(idle >= LIMITS.idleTimeout - 100 && idle < LIMITS.idleTimeout + TIMING_SLACK_MS + 500, `closed after ${idle.toFixed(0)} ms idle (idleTimeout ${LIMITS.idleTimeout})`);
  assert.equal(socket.pending.length, 0, 'closed quietly');
  socket.destroy();
}));

test(`${TARGET}: past maxConnections a client gets 503 with Retry-After; a freed slot serves again`, T, () => withTarget({ limits: LIMITS }, async (target) => {
  const held: RawClient[] = [];
  for (let i = 0; i < LIMITS.maxConnections; i++) {
    const { response, socket } = await exchange(target, get('/setup'));
    assert.equal(response.status, 200, `connection ${i + 1}`);
    held.push(socket);
  }
  const refused = await exchange(target, get('/setup'));
  assert.equal(refused.response.status, 503);
  assert.equal(refused.response.header('retry-after'), '1');
  assert.equal(refused.response.header('connection'), 'close');
  await refused.socket.waitEnd(REQUEST_MS);
  refused.socket.destroy();

  held.pop()?.destroy();
  await sleep(TIMING_SLACK_MS);
  const { response, socket } = await exchange(target, get('/setup'));
  assert.equal(response.status, 200, 'served once a slot is free');
  socket.destroy();
  for (const socket of held) socket.destroy();
}));

test(`${TARGET}: clients that vanish mid-response do not hurt the server`, T, () => withTarget({ limits: LIMITS }, async (target) => {
  for (let i = 0; i < 5; i++) {
    const socket = await client(target);
    await socket.write(get('/setup'));
    if (i % 2 === 0) socket.socket.resetAndDestroy();
    else socket.destroy();
  }
  await sleep(TIMING_SLACK_MS);
  const { response, socket } = await exchange(target, get('/setup'));
  assert.equal(response.status, 200);
  socket.destroy();
  assert.doesNotMatch(target.output(), /XS abort|\[error\]/, 'nothing went wrong inside');
}));

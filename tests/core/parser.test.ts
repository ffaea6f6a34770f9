import '../support/install-host';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { latin1Bytes } from '../../modules/http/bytes';
import { HttpError } from '../../modules/http/errors';
import { resolveLimits, type Limits } from '../../modules/http/limits';
import { RequestParser, type ParsedRequest } from '../../modules/http/parser';

function parseAll(raw: string, limits: Partial<Limits> = {}, split?: number[]): ParsedRequest[] {
  const parser = new RequestParser(resolveLimits(limits));
  const bytes = latin1Bytes(raw);
  const cuts = [0, ...(split ?? []), bytes.length];
  const out: ParsedRequest[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    parser.push(bytes.subarray(cuts[i], cuts[i + 1]));
    for (let request = parser.next(); request !== undefined; request = parser.next()) out.push(request);
  }
  return out;
}

function statusOf(raw: string, limits: Partial<Limits> = {}): number {
  try {
    parseAll(raw, limits);
  } catch (error) {
    assert.ok(error instanceof HttpError, `expected HttpError, got ${String(error)}`);
    return error.status;
  }
  return 0;
}

test('parses a GET with headers, case-insensitively', () => {
  const [request] = parseAll('GET /a/b?x=1 HTTP/1.1\r\nHost: dev\r\nX-Thing:  spaced value \r\n\r\n');
  assert.equal(request.head.method, 'GET');
  assert.equal(request.head.target, '/a/b?x=1');
  assert.equal(request.head.version, '1.1');
  assert.equal(request.head.headers.get('x-thing'), 'spaced value');
  assert.equal(request.head.headers.get('HOST'), 'dev');
  assert.equal(request.head.keepAlive, true);
  assert.equal(request.body.length, 0);
});

test('reads a Content-Length body and the pipelined request after it', () => {
  const requests = parseAll('POST /p HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\n\r\nhelloGET /next HTTP/1.1\r\nHost: d\r\n\r\n');
  assert.equal(requests.length, 2);
  assert.deepEqual([...requests[0].body], [...latin1Bytes('hello')]);
  assert.equal(requests[1].head.target, '/next');
});

test('gives the same result for a request split at every byte boundary', () => {
  const raw = 'POST /form HTTP/1.1\r\nHost: d\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world';
  for (let cut = 1; cut < raw.length; cut++) {
    const [request] = parseAll(raw, {}, [cut]);
    assert.equal(request.head.target, '/form', `cut at ${cut}`);
    assert.deepEqual([...request.body], [...latin1Bytes('hello world')], `cut at ${cut}`);
  }
  const oneByteAtATime = parseAll(raw, {}, Array.from({ length: raw.length - 1 }, (_, i) => i + 1));
  assert.equal(oneByteAtATime.length, 1);
});

test('skips empty lines (CRLF) before a request line, however split', () => {
  const raw = '\r\n\r\nGET / HTTP/1.1\r\nHost: d\r\n\r\n';
  for (let cut = 1; cut < raw.length; cut++) assert.equal(parseAll(raw, {}, [cut])[0].head.target, '/', `cut at ${cut}`);
});

test('every line of a head ends in CRLF: a bare LF or bare CR anywhere gets 400 and close', () => {
  const heads = [
    'GET / HTTP/1.1\nHost: d\r\n\r\n', // request line
    'GET / HTTP/1.1\r\nHost: d\n\r\n', // field line
    'GET / HTTP/1.1\r\nHost: d\r\n\n', // empty line
    'GET / HTTP/1.1\nHost: d\n\n', // LF only
    '\nGET / HTTP/1.1\r\nHost: d\r\n\r\n', // empty line before the request line
    '\r\n\nGET / HTTP/1.1\r\nHost: d\r\n\r\n',
    '\rGET / HTTP/1.1\r\nHost: d\r\n\r\n',
    'GET / HTTP/1.1\rHost: d\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: d\r\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: d\r\n\r\r\n',
    // issue 15: the lone LF made `Content-Length: 23` count and hid a second request for /admin
    'GET / HTTP/1.1\r\nHost: localhost\r\nDummy: x\nContent-Length: 23\r\n\r\nGET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n',
  ];
  for (const raw of heads) {
    for (let cut = 1; cut < raw.length; cut++) {
      let error: unknown;
      try {
        parseAll(raw, {}, [cut]);
      } catch (caught) {
        error = caught;
      }
      assert.ok(error instanceof HttpError && error.status === 400 && error.close, `${JSON.stringify(raw)} cut at ${cut}: ${String(error)}`);
    }
  }
});

test('a bare LF is refused when it arrives, before the head is complete', () => {
  const parser = new RequestParser(resolveLimits({}));
  parser.push(latin1Bytes('GET / HTTP/1.1\r\nHost: d\nX-Still: coming'));
  assert.throws(() => parser.next(), (error: unknown) => error instanceof HttpError && error.status === 400);
});

test('HTTP/1.0 closes unless keep-alive is asked; 1.1 keeps alive unless close', () => {
  assert.equal(parseAll('GET / HTTP/1.0\r\n\r\n')[0].head.keepAlive, false);
  assert.equal(parseAll('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')[0].head.keepAlive, true);
  assert.equal(parseAll('GET / HTTP/1.1\r\nHost: d\r\nConnection: Close\r\n\r\n')[0].head.keepAlive, false);
  assert.equal(parseAll('GET / HTTP/1.1\r\nHost: d\r\nConnection: upgrade, close\r\n\r\n')[0].head.keepAlive, false);
});

test('HTTP/1.x minor versions above 1 are treated as 1.1; other majors get 505', () => {
  assert.equal(parseAll('GET / HTTP/1.7\r\nHost: d\r\n\r\n')[0].head.version, '1.1');
  assert.equal(statusOf('GET / HTTP/2.0\r\nHost: d\r\n\r\n'), 505);
  assert.equal(statusOf('GET / HTTP/0.9\r\n\r\n'), 505);
});

test('absolute-form targets keep their path and query', () => {
  assert.equal(parseAll('GET http://dev.local/a?b=1 HTTP/1.1\r\nHost: dev.local\r\n\r\n')[0].head.target, '/a?b=1');
  assert.equal(parseAll('GET http://dev.local HTTP/1.1\r\nHost: dev.local\r\n\r\n')[0].head.target, '/');
});

test('Expect: 100-continue is flagged; other expectations get 417', () => {
  const [request] = parseAll('POST / HTTP/1.1\r\nHost: d\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx');
  assert.equal(request.head.expectContinue, true);
  assert.equal(statusOf('POST / HTTP/1.1\r\nHost: d\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx'), 417);
});

test('malformed requests get 400 and close the connection', () => {
  const cases = [
    'GET  / HTTP/1.1\r\nHost: d\r\n\r\n',
    'GET / HTTP/1.1 extra\r\nHost: d\r\n\r\n',
    'GET /\r\nHost: d\r\n\r\n',
    'G(T / HTTP/1.1\r\nHost: d\r\n\r\n',
    'GET / HTTX/1.1\r\nHost: d\r\n\r\n',
    'GET / HTTP/1.1\r\nHost : d\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: d\r\n folded\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: d\r\nX: a\rb\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: d\r\nX: a\x00b\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: d\r\nno colon\r\n\r\n',
    'GET /a\x7fb HTTP/1.1\r\nHost: d\r\n\r\n',
    'GET noslash HTTP/1.1\r\nHost: d\r\n\r\n',
    'GET / HTTP/1.1\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 1x\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: d\r\nContent-Length: -1\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
    'POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n',
  ];
  for (const raw of cases) {
    try {
      parseAll(raw);
      assert.fail(`accepted ${JSON.stringify(raw)}`);
    } catch (error) {
      assert.ok(error instanceof HttpError, `${JSON.stringify(raw)}: ${String(error)}`);
      assert.equal(error.status, 400, JSON.stringify(raw));
      assert.equal(error.close, true);
    }
  }
});

test('Content-Length once, one value: repeated fields or lists, even of equal values, get 400 (RFC 9110 §8.6)', () => {
  for (const lengths of ['Content-Length: 2, 2', 'Content-Length: 2\r\nContent-Length: 2', 'Content-Length: 2,', 'Content-Length: 2 2', 'Content-Length: +2', 'Content-Length:']) {
    assert.equal(statusOf(`POST / HTTP/1.1\r\nHost: d\r\n${lengths}\r\n\r\nok`), 400, lengths);
  }
  assert.equal(parseAll('POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 002\r\n\r\nok')[0].body.length, 2);
});

test('transfer codings: chunked gets 411, others 501', () => {
  assert.equal(statusOf('POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n'), 411);
  assert.equal(statusOf('POST / HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: gzip\r\n\r\n'), 501);
});

test('a request line over the limit gets 414 before the line ends', () => {
  const limits = { maxRequestLine: 64 };
  assert.equal(statusOf(`GET /${'a'.repeat(100)}`, limits), 414);
  assert.equal(statusOf(`GET /${'a'.repeat(100)} HTTP/1.1\r\nHost: d\r\n\r\n`, limits), 414);
  assert.equal(parseAll(`GET /${'a'.repeat(50)} HTTP/1.1\r\nHost: d\r\n\r\n`, limits).length, 1);
});

test('too many header bytes or fields get 431, even before the head ends', () => {
  assert.equal(statusOf(`GET / HTTP/1.1\r\nHost: d\r\nX: ${'v'.repeat(300)}`, { maxHeaderBytes: 256 }), 431);
  assert.equal(statusOf(`GET / HTTP/1.1\r\nHost: d\r\nX: ${'v'.repeat(300)}\r\n\r\n`, { maxHeaderBytes: 256 }), 431);
  const many = Array.from({ length: 11 }, (_, i) => `X-${i}: v\r\n`).join('');
  assert.equal(statusOf(`GET / HTTP/1.1\r\nHost: d\r\n${many}\r\n`, { maxHeaders: 10 }), 431);
  assert.equal(parseAll(`GET / HTTP/1.1\r\nHost: d\r\n${many}\r\n`, { maxHeaders: 12 }).length, 1);
});

test('a Content-Length over maxBody gets 413 from the head alone', () => {
  assert.equal(statusOf('POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 1025\r\n\r\n', { maxBody: 1024 }), 413);
  assert.equal(statusOf('POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 99999999999999999999\r\n\r\n'), 400);
});

test('wants never lets the buffer outgrow the head allowance or the body', () => {
  const limits = resolveLimits({ maxRequestLine: 100, maxHeaderBytes: 200 });
  const parser = new RequestParser(limits);
  assert.equal(parser.wants, 305);
  parser.push(latin1Bytes('POST / HTTP/1.1\r\nHost: d\r\nContent-Length: 10\r\n\r\n'));
  assert.equal(parser.next(), undefined);
  assert.equal(parser.wants, 10);
  assert.equal(parser.head?.contentLength, 10);
  parser.push(latin1Bytes('0123456789'));
  assert.equal(parser.next()?.body.length, 10);
  assert.equal(parser.hasPartialRequest, false);
});

/**
 * Property-based tests (fast-check) of the request parser and of the whole connection path, fed
 * generated, mutated and random requests split at random byte boundaries.
 *
 * - Model: a generated request within the limits parses to exactly what was generated, however the
 *   bytes are split and whether or not the reader respects `wants` (parse(serialize(r)) == r).
 * - Limits: one limit exceeded by k bytes or fields gives exactly its status.
 * - Line ends and framing: a bare LF or CR ending any line of a head, and the framing shapes of
 *   llhttp's corpus (repeated Content-Length, Content-Length with Transfer-Encoding, folding…), give
 *   exactly their status and close, with the requests before them parsed and none after.
 * - Robustness: mutated, random and grammar-soup bytes never make the parser throw anything but an
 *   HttpError with a status of the parser's set (400 411 413 414 417 431 501 505) and `close`; the
 *   reader is never stalled (after next() returns nothing, wants > 0) and never asked for more than
 *   the limits; every request it returns is within the limits.
 * - End to end through TestClient.exchange: the bytes that come back are a sequence of well-formed
 *   HTTP/1.1 responses (or nothing), never a 500, nothing is logged as an error, and the server's
 *   connectionCount is 0 again.
 *
 * Cases: FUZZ_RUNS per property on Node when set (`npm run test:fuzz`), else a smaller sample; a
 * constant sample on XS. FUZZ_SEED replays a run. A summary table is printed at the end.
 */
import '../support/install-host';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { latin1, latin1Bytes } from '../../modules/http/bytes';
import { HttpError } from '../../modules/http/errors';
import { App } from '../../modules/http/app';
import { resolveLimits, DEFAULT_LIMITS, type Limits } from '../../modules/http/limits';
import { RequestParser, type ParsedRequest } from '../../modules/http/parser';
import { Response } from '../../modules/http/response';
import { TestClient } from '../../modules/http/testclient';
import { installRuntime, runtime, type LogLevel, type Runtime } from '../../modules/runtime';
import { Session, withSession } from '../../modules/session/session';
import { concat, fuzzRuns, fuzzSeed, Tally } from '../support/fuzz';

const tally = new Tally('Request parser and connection fuzzing');
after(() => tally.print());

/** Statuses the parser may answer with. */
const PARSER_STATUSES = new Set([400, 411, 413, 414, 417, 431, 501, 505]);

function params(runs: number): fc.Parameters<unknown> {
  const seed = fuzzSeed();
  return seed === undefined ? { numRuns: runs } : { numRuns: runs, seed };
}

// ---- the model: generated requests and their serialization ------------------------------------------

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('');
/** Header names whose semantics the parser applies; generated on purpose, never by chance. */
const SPECIAL = new Set(['host', 'content-length', 'transfer-encoding', 'expect', 'connection']);

const token = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: min, maxLength: max });
const charIn = (min: number, max: number) => fc.integer({ min, max }).map((c) => String.fromCharCode(c));
const visible = charIn(0x21, 0x7e);
const ows = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 3 });
/** Line ends of the soup and of mutations; valid requests end every line with CRLF. */
const eol = fc.constantFrom('\r\n', '\n');

interface Field {
  name: string;
  /** The value as written, surrounding whitespace included. */
  raw: string;
}

interface ModelRequest {
  leading: string;
  method: string;
  target: string;
  expectedTarget: string;
  version: string;
  fields: Field[];
  body: Uint8Array;
}

interface Canonical {
  method: string;
  target: string;
  version: string;
  headers: [string, string][];
  contentLength: number;
  keepAlive: boolean;
  expectContinue: boolean;
  body: number[];
}

const originTarget = fc.string({ unit: visible, maxLength: 40 }).map((path) => ({ target: `/${path}`, expected: `/${path}` }));
const absoluteTarget = fc.record({
  scheme: fc.constantFrom('http', 'https', 'HTTP', 'hTTpS'),
  host: fc.string({ unit: fc.constantFrom(...'abcxyz019.-:@[]'.split('')), maxLength: 12 }),
  path: fc.option(fc.string({ unit: visible.filter((c) => c !== '?'), maxLength: 20 }).map((p) => `/${p}`)),
  query: fc.option(fc.string({ unit: visible, maxLength: 20 })),
}).map(({ scheme, host, path, query }) => ({
  target: `${scheme}://${host}${path ?? ''}${query === null ? '' : `?${query}`}`,
  expected: `${path ?? '/'}${query === null ? '' : `?${query}`}`,
}));
const target = fc.oneof({ weight: 6, arbitrary: originTarget }, { weight: 2, arbitrary: absoluteTarget }, { weight: 1, arbitrary: fc.constant({ target: '*', expected: '*' }) });

/** Field values: visible ASCII, obs-text and inner blanks; the parser trims the outer blanks. */
const fieldValue = fc.string({ unit: fc.oneof({ weight: 8, arbitrary: visible }, charIn(0x80, 0xff), fc.constantFrom(' ', '\t')), maxLength: 40 });
const genericField = fc.record({
  name: token(1, 16).filter((name) => !SPECIAL.has(name.toLowerCase())),
  value: fieldValue,
  before: ows,
  after: ows,
}).map(({ name, value, before, after }) => ({ name, raw: before + value + after }));

const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 700 }) },
);

const modelRequest: fc.Arbitrary<ModelRequest> = fc.record({
  leading: fc.constantFrom('', '', '', '\r\n', '\r\n\r\n'),
  method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'), token(1, 12)),
  target,
  version: fc.constantFrom('1.0', '1.1', '1.1', '1.2', '1.9'),
  generic: fc.array(genericField, { maxLength: 10 }),
  hostName: fc.constantFrom('Host', 'host', 'HOST', 'hOsT'),
  hostValue: fieldValue,
  hostIn10: fc.boolean(),
  body,
  lengthStyle: fc.constantFrom('plain', 'zeros', 'absent', 'absent'),
  connection: fc.array(fc.constantFrom('close', 'keep-alive', 'Keep-Alive', 'CLOSE', 'upgrade', 'close, upgrade', 'te , keep-alive', 'closed', 'keep-alives', ''), { maxLength: 2 }),
  expect: fc.option(fc.constantFrom('100-continue', '100-Continue', '100-CONTINUE')),
}).chain((r) => {
  const fields: Field[] = [...r.generic];
  if (r.version !== '1.0' || r.hostIn10) fields.push({ name: r.hostName, raw: r.hostValue });
  const n = r.body.length;
  const style = n > 0 && r.lengthStyle === 'absent' ? 'plain' : r.lengthStyle;
  if (style === 'plain') fields.push({ name: 'Content-Length', raw: ` ${n}` });
  else if (style === 'zeros') fields.push({ name: 'content-length', raw: `${'0'.repeat(15 - String(n).length)}${n}` });
  for (const value of r.connection) fields.push({ name: 'Connection', raw: ` ${value}` });
  if (r.expect !== null) fields.push({ name: 'Expect', raw: ` ${r.expect}` });
  return fc.shuffledSubarray(fields, { minLength: fields.length, maxLength: fields.length }).map((shuffled): ModelRequest => ({
    leading: r.leading,
    method: r.method,
    target: r.target.target,
    expectedTarget: r.target.expected,
    version: r.version,
    fields: shuffled,
    body: r.body,
  }));
});

const NO_EOLS: ReadonlyMap<number, string> = new Map();

function requestLine(r: ModelRequest): string {
  return `${r.method} ${r.target} HTTP/${r.version}`;
}

/**
 * The request's bytes. `eols` replaces line ends by index (0: the request line, 1…n: the field lines,
 * n + 1: the empty line); every other line ends with CRLF.
 */
function serialize(r: ModelRequest, eols: ReadonlyMap<number, string> = NO_EOLS): Uint8Array {
  const eolAt = (i: number) => eols.get(i) ?? '\r\n';
  let head = r.leading + requestLine(r) + eolAt(0);
  r.fields.forEach((field, i) => { head += `${field.name}:${field.raw}${eolAt(i + 1)}`; });
  head += eolAt(r.fields.length + 1);
  const bytes = new Uint8Array(head.length + r.body.length);
  bytes.set(latin1Bytes(head), 0);
  bytes.set(r.body, head.length);
  return bytes;
}

/** What a request costs against each limit. */
function needs(r: ModelRequest): { line: number; headerBytes: number; headers: number; body: number } {
  let headerBytes = 0;
  for (const field of r.fields) headerBytes += field.name.length + 1 + field.raw.length + 2;
  return { line: requestLine(r).length, headerBytes, headers: r.fields.length, body: r.body.length };
}

function trimOws(text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** What the parser must produce for `r`, by the RFC 9112 rules written out independently. */
function expected(r: ModelRequest): Canonical {
  const headers = r.fields.map((f): [string, string] => [f.name.toLowerCase(), trimOws(f.raw)]);
  const version = r.version === '1.0' ? '1.0' : '1.1';
  const connection = headers.filter(([name]) => name === 'connection').map(([, value]) => value).join(', ').toLowerCase();
  const tokens = connection.split(',').map((t) => t.trim());
  const hasExpect = headers.some(([name]) => name === 'expect');
  return {
    method: r.method,
    target: r.expectedTarget,
    version,
    headers,
    contentLength: r.body.length,
    keepAlive: version === '1.1' ? !tokens.includes('close') : tokens.includes('keep-alive'),
    expectContinue: hasExpect && version === '1.1',
    body: [...r.body],
  };
}

function canonical(request: ParsedRequest): Canonical {
  const { head } = request;
  return {
    method: head.method,
    target: head.target,
    version: head.version,
    headers: [...head.headers],
    contentLength: head.contentLength,
    keepAlive: head.keepAlive,
    expectContinue: head.expectContinue,
    body: [...request.body],
  };
}

/** Compares as JSON first (deepEqual of byte arrays is slow on XS); deepEqual only to show a difference. */
function sameRequests(actual: Canonical[], wanted: Canonical[], message?: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(wanted)) assert.deepEqual(actual, wanted, message);
}

// ---- driving the parser ------------------------------------------------------------------------------

interface Outcome {
  requests: ParsedRequest[];
  error: HttpError | undefined;
}

/** Thrown for anything that is not an HttpError: counted as a crash. */
class Crash extends Error {}

/**
 * Feeds `bytes` in pieces of the given sizes (cycled). With `respectWants` it reads as the server's
 * connection does: never more than `parser.wants`. Checks the parser's invariants on the way.
 */
function drive(limits: Limits, bytes: Uint8Array, pieces: readonly number[], respectWants: boolean): Outcome {
  const parser = new RequestParser(limits);
  const allowance = limits.maxRequestLine + limits.maxHeaderBytes + 4;
  const requests: ParsedRequest[] = [];
  let offset = 0;
  let k = 0;
  const take = (): HttpError | undefined => {
    for (;;) {
      let request: ParsedRequest | undefined;
      try {
        request = parser.next();
      } catch (error) {
        if (!(error instanceof HttpError)) throw new Crash(`next() threw a non-HttpError: ${String(error)}`);
        return error;
      }
      if (request === undefined) return undefined;
      checkWithinLimits(request, limits);
      requests.push(request);
    }
  };
  while (offset < bytes.length) {
    const wants = parser.wants;
    const head = parser.head;
    if (head === undefined) assert.ok(wants >= 0 && wants <= allowance + 1, `wants ${wants} outside 0..${allowance + 1} while reading a head`);
    else assert.ok(wants >= 0 && wants <= head.contentLength, `wants ${wants} beyond the body (${head.contentLength})`);
    let size = Math.min(pieces[k++ % pieces.length], bytes.length - offset);
    if (respectWants) {
      assert.ok(wants > 0, 'the parser wants nothing, returned nothing and raised nothing: the connection would stall');
      size = Math.min(size, wants);
    }
    try {
      parser.push(bytes.subarray(offset, offset + size));
    } catch (error) {
      throw new Crash(`push() threw: ${String(error)}`);
    }
    offset += size;
    const error = take();
    if (error !== undefined) {
      checkError(error);
      return { requests, error };
    }
  }
  return { requests, error: undefined };
}

function checkError(error: HttpError): void {
  assert.ok(PARSER_STATUSES.has(error.status), `unexpected parser status ${error.status}`);
  // 417 without a body keeps the framing intact; the server closes after any parse error anyway.
  assert.ok(error.close || error.status === 417, `status ${error.status} without close`);
}

function checkWithinLimits(request: ParsedRequest, limits: Limits): void {
  const { head, body: bytes } = request;
  assert.ok(head.method.length > 0 && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(head.method), `method ${JSON.stringify(head.method)}`);
  assert.ok(/^[\x21-\x7e]+$/.test(head.target) && (head.target[0] === '/' || head.target === '*'), `target ${JSON.stringify(head.target)}`);
  assert.ok(head.target.length <= limits.maxRequestLine, 'target over the line limit');
  assert.ok(head.headers.size <= limits.maxHeaders, `${head.headers.size} fields over maxHeaders ${limits.maxHeaders}`);
  assert.ok(head.contentLength >= 0 && head.contentLength <= limits.maxBody, `contentLength ${head.contentLength}`);
  assert.equal(bytes.length, head.contentLength);
  if (head.version === '1.1') assert.equal(head.headers.getAll('host').length, 1, 'HTTP/1.1 with other than one Host');
  assert.equal(head.headers.get('transfer-encoding'), undefined);
}

/**
 * Framing shapes llhttp's corpus (tests/fixtures/llhttp-requests.json) refuses, as field lines to put
 * in a head, with the status xsdot answers: repeated or malformed Content-Length, Content-Length with
 * Transfer-Encoding, transfer codings, whitespace before the colon, obsolete line folding. `body` is
 * what a peer that read the head otherwise would take for a body or a next request.
 */
interface FramingShape {
  fields: Field[];
  status: number;
  body: string;
}
const length = fc.integer({ min: 0, max: 9 });
const lengthValue = (n: number) => fc.constantFrom(`${n}`, ` ${n}`, `${n} `, `00${n}`);
const framingShape: fc.Arbitrary<FramingShape> = fc.oneof(
  fc.tuple(length, length, fc.boolean()).chain(([a, b, list]) => fc.tuple(lengthValue(a), lengthValue(b), fc.constantFrom('Content-Length', 'content-length', 'CONTENT-LENGTH'))
    .map(([x, y, name]) => ({ fields: list ? [{ name, raw: `${x},${y}` }] : [{ name: 'Content-Length', raw: x }, { name, raw: y }], status: 400, body: 'x'.repeat(Math.max(a, b)) }))),
  fc.tuple(length, fc.constantFrom('chunked', 'identity', 'gzip, chunked', 'chunked, identity', ' chunked ')).map(([n, coding]) => ({ fields: [{ name: 'Content-Length', raw: ` ${n}` }, { name: 'Transfer-Encoding', raw: ` ${coding}` }], status: 400, body: '0\r\n\r\n' })),
  fc.constantFrom('chunked', 'gzip, chunked', 'identity, chunked', 'CHUNKED', 'gzip,chunked').map((coding) => ({ fields: [{ name: 'Transfer-Encoding', raw: ` ${coding}` }], status: 411, body: '5\r\nhello\r\n0\r\n\r\n' })),
  fc.constantFrom('chunked, gzip', 'identity', 'gzip', 'chunkedchunked', 'chunked;x=1').map((coding) => ({ fields: [{ name: 'Transfer-Encoding', raw: ` ${coding}` }], status: 501, body: '0\r\n\r\n' })),
  fc.constantFrom('', ' ', '-1', '+1', '1 2', '0x10', '1e3', '1.0', '1000000000000000000000', '\xb9', '4,').map((raw) => ({ fields: [{ name: 'Content-Length', raw }], status: 400, body: 'abcd' })),
  fc.constantFrom(' ', '\t').map((blank) => ({ fields: [{ name: `Content-Length${blank}`, raw: ' 4' }], status: 400, body: 'abcd' })),
  fc.constantFrom(' ', '\t').map((blank) => ({ fields: [{ name: 'X-Folded', raw: ' a' }, { name: `${blank}Content-Length`, raw: ' 4' }], status: 400, body: 'abcd' })),
  fc.constantFrom(' ', '\t').map((blank) => ({ fields: [{ name: 'Transfer-Encoding', raw: ' gzip' }, { name: `${blank}chunked`, raw: '' }], status: 400, body: '0\r\n\r\n' })),
);

/** Piece sizes: mostly small, so the parser sees heads and bodies cut everywhere. */
const pieces = fc.array(fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 200 }) }, { weight: 1, arbitrary: fc.constant(1 << 20) }), { minLength: 1, maxLength: 12 });

/** Limits just big enough for `requests`, plus a slack that is often 0 (requests exactly at the limit). */
function fittingLimits(requests: ModelRequest[], slack: { line: number; headerBytes: number; headers: number; body: number }): Limits {
  const need = { line: 1, headerBytes: 1, headers: 1, body: 1 };
  for (const r of requests) {
    const n = needs(r);
    need.line = Math.max(need.line, n.line);
    need.headerBytes = Math.max(need.headerBytes, n.headerBytes);
    need.headers = Math.max(need.headers, n.headers);
    need.body = Math.max(need.body, n.body);
  }
  return resolveLimits({
    maxRequestLine: need.line + slack.line,
    maxHeaderBytes: need.headerBytes + slack.headerBytes,
    maxHeaders: need.headers + slack.headers,
    maxBody: need.body + slack.body,
  });
}

const slackValue = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.constant(3000) });
const slack = fc.record({ line: slackValue, headerBytes: slackValue, headers: slackValue, body: slackValue });

/** Runs `body` for one case, counting it; anything but an assertion about the model is a crash. */
function counted<T>(row: string, body: () => T): T {
  const counts = tally.row(row);
  counts.tried++;
  try {
    return body();
  } catch (error) {
    if (error instanceof Crash) counts.crashes++;
    throw error;
  }
}

// ---- mutations ---------------------------------------------------------------------------------------

const SNIPPETS = [
  '\r\n', '\n', '\r', ' ', '\t', ':', '\x00', '\x7f', '\xff', '/', '?', '%', ',', '\r\n\r\n', '\n\n', ' HTTP/1.1', 'HTTP/2.0', 'HTTP/1.0',
  'Content-Length: 5\r\n', 'Content-Length: 99999999999999999999\r\n', 'Content-Length: -1\r\n', 'Content-Length: 1e3\r\n', 'Content-Length: 0x10\r\n',
  'Content-Length: 2, 3\r\n', 'Content-Length:\r\n', 'Transfer-Encoding: chunked\r\n', 'Transfer-Encoding: gzip, chunked\r\n', 'Transfer-Encoding: chunked, gzip\r\n',
  'Host: x\r\n', 'Host:\r\n', 'Expect: 100-continue\r\n', 'Expect: 200-ok\r\n', 'Connection: close\r\n', 'Connection: keep-alive\r\n', ' folded\r\n',
  'X: \x01\r\n', 'Cookie: session=a.b.c\r\n', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc',
  'http://h', 'https://', '*', '%00', '%zz', '../', '\u00e9', '\xc3\xa9',
];

/** Whole lines, inserted at line starts: conflicting framing, versions, expectations, folding. */
const LINES = [
  'Transfer-Encoding: chunked\r\n', 'Transfer-Encoding: gzip\r\n', 'transfer-encoding: gzip, chunked\r\n', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n',
  'Content-Length: 0\r\n', 'Content-Length: 4097\r\n', 'Content-Length: 1, 2\r\n', 'Content-Length: +1\r\n', 'Content-Length: 000000000000000001\r\n',
  'Expect: 100-continue\r\n', 'Expect: something\r\n', 'Host: second\r\n', 'Connection: close\r\n', ' obs-fold\r\n', '\tobs-fold\r\n',
  'Bad Name: x\r\n', ': empty name\r\n', 'X:\x00\r\n', 'X: \x7f\r\n', 'X: \r\r\n', 'GET / HTTP/2.0\r\n', 'GET / HTTP/0.9\r\n', 'GET / HTTP/1.1\r\n',
  'GET / HTTP/3.0\r\nHost: a\r\n\r\n', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', '\r\n', '\n', `X-Big: ${'b'.repeat(2100)}\r\n`,
];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'repeat'; at: number; length: number; times: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'line'; after: number; line: Uint8Array }
  | { kind: 'drop'; line: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(9, 10, 13, 32, 58, 0, 127, 128, 255)) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(fc.constantFrom(...SNIPPETS).map(latin1Bytes), fc.uint8Array({ minLength: 1, maxLength: 16 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 24 }), times: fc.oneof(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 50, max: 400 })) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('line' as const), after: fc.nat(), line: fc.constantFrom(...LINES).map(latin1Bytes) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop' as const), line: fc.nat() }) },
);

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = input;
  for (const m of mutations) {
    const at = 'at' in m ? m.at % (bytes.length + 1) : 0;
    switch (m.kind) {
      case 'flip':
        if (at < bytes.length) { bytes = bytes.slice(); bytes[at] ^= 1 << m.bit; }
        break;
      case 'set':
        if (at < bytes.length) { bytes = bytes.slice(); bytes[at] = m.byte; }
        break;
      case 'insert':
        bytes = concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
        break;
      case 'repeat': {
        const piece = bytes.subarray(at, at + m.length);
        bytes = concat([bytes.subarray(0, at), ...Array.from({ length: m.times }, () => piece), bytes.subarray(at + m.length)]);
        break;
      }
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'drop': {
        // Removes one whole line (a Host, a Content-Length, the blank line…).
        const starts = [0];
        for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) starts.push(i + 1);
        const which = m.line % starts.length;
        const end = which + 1 < starts.length ? starts[which + 1] : bytes.length;
        bytes = concat([bytes.subarray(0, starts[which]), bytes.subarray(end)]);
        break;
      }
      case 'line': {
        // At the start of a line: where a field line or a new request line has its effect.
        const ends: number[] = [];
        for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) ends.push(i + 1);
        const where = ends.length === 0 ? 0 : ends[m.after % ends.length];
        bytes = concat([bytes.subarray(0, where), m.line, bytes.subarray(where)]);
        break;
      }
    }
  }
  return bytes;
}

/** HTTP-shaped noise: request-ish tokens in random order, which reach deeper than random bytes. */
const SOUP = [
  'GET', 'POST', 'HEAD', 'PUT', 'G@T', ' ', '  ', '/', '/a', '?', '=', '&', '*', 'http://x', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/1.', 'HTTP/9.9', 'HTTP/11.1',
  '\r\n', '\n', '\r', ':', ': ', 'Host', 'host', 'Content-Length', 'Transfer-Encoding', 'chunked', 'Expect', '100-continue', 'Connection',
  'close', 'keep-alive', '0', '1', '5', '16', '4096', '4097', '99999999999999999', ',', '\t', 'X', 'a'.repeat(300), '\x00', '\xff', 'abc',
];
const soupLine = fc.array(fc.constantFrom(...SOUP), { maxLength: 12 }).map((parts) => parts.join(''));
const soup = fc.oneof(
  fc.array(fc.constantFrom(...SOUP), { maxLength: 80 }).map((parts) => latin1Bytes(parts.join(''))),
  // Lines of soup ending with an empty line: complete heads, so the field rules are reached.
  fc.tuple(fc.array(soupLine, { minLength: 1, maxLength: 8 }), eol, fc.uint8Array({ maxLength: 20 }))
    .map(([lines, end, tail]) => concat([latin1Bytes(lines.join(end) + end + end), tail])),
);

const someLimits = fc.oneof(
  { weight: 2, arbitrary: fc.constant(resolveLimits()) },
  fc.record({
    maxRequestLine: fc.integer({ min: 1, max: 128 }),
    maxHeaderBytes: fc.integer({ min: 1, max: 256 }),
    maxHeaders: fc.integer({ min: 1, max: 8 }),
    maxBody: fc.integer({ min: 1, max: 64 }),
  }).map((overrides) => resolveLimits(overrides)),
);

/** Valid pipelines mutated 1–4 times: mostly almost-valid requests, the interesting kind. */
const mutated = fc.tuple(fc.array(modelRequest, { minLength: 1, maxLength: 3 }), fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([requests, mutations]) => mutate(concat(requests.map((r) => serialize(r))), mutations));

/** Robustness checks shared by the mutated, random and soup properties. */
function robust(row: string, limits: Limits, bytes: Uint8Array, split: readonly number[]): void {
  counted(row, () => {
    const incremental = drive(limits, bytes, split, true);
    const whole = drive(limits, bytes, [bytes.length || 1], false);
    // However the bytes arrive, the same requests are accepted and an error is raised or not.
    sameRequests(incremental.requests.map(canonical), whole.requests.map(canonical), 'accepted requests depend on the split');
    assert.equal(incremental.error === undefined, whole.error === undefined, `error depends on the split: ${incremental.error?.status} vs ${whole.error?.status}`);
    const counts = tally.row(row);
    if (incremental.error !== undefined) {
      counts.rejected++;
      tally.saw(incremental.error.status);
    } else if (incremental.requests.length > 0) {
      counts.accepted++;
    } else {
      counts.pending++;
    }
  });
}

// ---- properties --------------------------------------------------------------------------------------

describe('request parser properties', () => {
  test('model: valid pipelines parse to exactly what was generated, however they are split', () => {
    fc.assert(fc.property(fc.array(modelRequest, { minLength: 1, maxLength: 3 }), slack, pieces, fc.boolean(), (requests, extra, split, respectWants) => {
      counted('model round trip', () => {
        const limits = fittingLimits(requests, extra);
        const outcome = drive(limits, concat(requests.map((r) => serialize(r))), split, respectWants);
        assert.equal(outcome.error, undefined, `rejected a valid request: ${outcome.error?.status} ${outcome.error?.reason}`);
        sameRequests(outcome.requests.map(canonical), requests.map(expected));
        tally.row('model round trip').accepted++;
      });
    }), params(fuzzRuns(1500, 300)));
  });

  test('limits: one limit exceeded gives exactly its status (414, 431, 413)', () => {
    const over = fc.constantFrom('line', 'headerBytes', 'headers', 'body');
    fc.assert(fc.property(modelRequest, over, fc.integer({ min: 1, max: 40 }), pieces, (r, which, by, split) => {
      counted('one limit exceeded', () => {
        const n = needs(r);
        const base = { maxRequestLine: n.line, maxHeaderBytes: Math.max(1, n.headerBytes), maxHeaders: Math.max(1, n.headers), maxBody: Math.max(1, n.body) };
        let status: number;
        if (which === 'line') { base.maxRequestLine = Math.max(1, n.line - by); status = 414; }
        else if (which === 'headerBytes' && n.headerBytes > 1) { base.maxHeaderBytes = Math.max(1, n.headerBytes - by); status = 431; }
        else if (which === 'headers' && n.headers > 1) { base.maxHeaders = Math.max(1, n.headers - Math.min(by, 3)); status = 431; }
        else if (which === 'body' && n.body > 1) { base.maxBody = Math.max(1, n.body - by); status = 413; }
        else { tally.row('one limit exceeded').tried--; return; }
        // Empty lines before the request line count against the line limit: more of them is a 400.
        if (r.leading.length > base.maxRequestLine) status = 400;
        const outcome = drive(resolveLimits(base), serialize(r), split, true);
        assert.equal(outcome.requests.length, 0);
        assert.equal(outcome.error?.status, status, `${which} over by ${by}: got ${outcome.error?.status} ${outcome.error?.reason}`);
        tally.row('one limit exceeded').rejected++;
        tally.saw(status);
      });
    }), params(fuzzRuns(1500, 300)));
  });

  test('mixed line ends: a bare LF or CR ending any line of a head gets 400 and close; requests before it stand', () => {
    // Which lines of the middle request end otherwise (request line, a field line, the empty line, or an
    // empty line before the request line), and with what.
    const badEol = fc.constantFrom('\n', '\r', '\n\r', '\r\r\n', ' \n');
    fc.assert(fc.property(fc.array(modelRequest, { minLength: 3, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), badEol), { minLength: 1, maxLength: 3 }), pieces, (requests, bad, split) => {
      counted('mixed line ends', () => {
        const [before, middle, following] = requests;
        const lines = middle.fields.length + 2;
        const eols = new Map(bad.map(([at, end]) => [at % (lines + 1), end]));
        // Index `lines` stands for a bare line end before the request line (RFC 9112 §2.2's empty lines).
        const leading = eols.get(lines);
        eols.delete(lines);
        const broken = leading === undefined ? middle : { ...middle, leading: middle.leading + leading };
        const outcome = drive(fittingLimits(requests, { line: 3000, headerBytes: 3000, headers: 3, body: 3000 }), concat([serialize(before), serialize(broken, eols), serialize(following)]), split, true);
        assert.equal(outcome.error?.status, 400, `got ${outcome.error?.status} ${outcome.error?.reason}`);
        assert.ok(outcome.error.close);
        sameRequests(outcome.requests.map(canonical), [before].map(expected));
        tally.row('mixed line ends').rejected++;
      });
    }), params(fuzzRuns(1000, 200)));
  });

  test("framing shapes of llhttp's corpus: exactly their status and close, nothing after them parsed", () => {
    fc.assert(fc.property(fc.array(modelRequest, { minLength: 3, maxLength: 3 }), framingShape, fc.nat(), pieces, (requests, shape, at, split) => {
      counted('framing shapes', () => {
        const [before, middle, following] = requests;
        // The middle request's own framing is taken out, so the shape alone decides.
        const fields = middle.fields.filter((field) => field.name.toLowerCase() !== 'content-length');
        const where = at % (fields.length + 1);
        const shaped: ModelRequest = { ...middle, fields: [...fields.slice(0, where), ...shape.fields, ...fields.slice(where)], body: new Uint8Array(0) };
        const limits = fittingLimits([before, shaped, following], { line: 0, headerBytes: 3000, headers: 8, body: 3000 });
        const outcome = drive(limits, concat([serialize(before), serialize(shaped), latin1Bytes(shape.body), serialize(following)]), split, true);
        assert.equal(outcome.error?.status, shape.status, `${JSON.stringify(shape.fields)}: got ${outcome.error?.status} ${outcome.error?.reason}`);
        assert.ok(outcome.error.close);
        sameRequests(outcome.requests.map(canonical), [before].map(expected));
        tally.row('framing shapes').rejected++;
        tally.saw(shape.status);
      });
    }), params(fuzzRuns(1000, 200)));
  });

  test('mutated requests: only HttpErrors, no stall, limits kept, split-independent', () => {
    fc.assert(fc.property(someLimits, mutated, pieces, (limits, bytes, split) => robust('mutated requests', limits, bytes, split)), params(fuzzRuns(1500, 300)));
  });

  test('random bytes: only HttpErrors, no stall, limits kept, split-independent', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 3000 }),
      fc.uint8Array({ maxLength: 200 }).map((random) => concat([random, latin1Bytes('\r\n\r\n')])),
    );
    fc.assert(fc.property(someLimits, bytes, pieces, (limits, input, split) => robust('random bytes', limits, input, split)), params(fuzzRuns(1000, 200)));
  });

  test('HTTP-shaped soup: only HttpErrors, no stall, limits kept, split-independent', () => {
    fc.assert(fc.property(someLimits, soup, pieces, (limits, input, split) => robust('HTTP-shaped soup', limits, input, split)), params(fuzzRuns(1000, 200)));
  });
});

// ---- end to end: the real connection code over the in-memory socket -----------------------------------

const KEY = new Uint8Array(32).fill(42);

function e2eApp(): App {
  const app = new App();
  new Session(app, { keys: [{ kid: 'k1', key: KEY }] });
  app.get('/', () => 'Hello, World!');
  app.get('/hello/<name>', (request) => `Hello, ${String(request.params.name)}!`);
  app.get('/users/<int:id>', (request) => ({ id: request.params.id }));
  app.get('/files/<path:rest>', (request) => ({ rest: request.params.rest }));
  app.get('/args', (request) => ({ a: request.args.getAll('a') }));
  app.post('/echo', (request) => request.text);
  app.post('/form', (request) => ({ form: request.form?.toObject() ?? null }));
  app.post('/json', (request) => ({ json: request.json ?? null }));
  app.route('/items', ['GET', 'PUT'], () => 'items');
  app.post('/login', withSession((_request, session) => { session.set('user', 'admin'); return 'in'; }));
  app.get('/me', withSession((_request, session) => session.get('user') ?? 'nobody'));
  app.get('/count/<int:n>', (request) => new Response((function* () {
    for (let i = 0; i < Math.min(Number(request.params.n), 50); i++) yield `${i};`;
  })()));
  return app;
}

const ROUTES = ['/', '/hello/x', '/hello/%C3%A9', '/users/7', '/users/x', '/files/a/b', '/args?a=1&a=2', '/echo', '/form', '/json', '/items', '/login', '/me', '/count/3', '/nope', '/%zz'];
const routedRequest = fc.tuple(modelRequest, fc.constantFrom(...ROUTES), fc.constantFrom('GET', 'POST', 'PUT', 'HEAD', 'DELETE'), fc.constantFrom('', 'application/json', 'application/x-www-form-urlencoded'))
  .map(([r, path, method, type]): ModelRequest => ({
    ...r,
    method,
    target: path,
    expectedTarget: path,
    fields: type === '' ? r.fields : [...r.fields, { name: 'Content-Type', raw: type }],
  }));
const e2eInput = fc.oneof(
  { weight: 2, arbitrary: fc.array(routedRequest, { minLength: 1, maxLength: 3 }).map((rs) => concat(rs.map((r) => serialize(r)))) },
  { weight: 4, arbitrary: fc.tuple(fc.array(routedRequest, { minLength: 1, maxLength: 3 }), fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([rs, ms]) => mutate(concat(rs.map((r) => serialize(r))), ms)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
  { weight: 1, arbitrary: soup },
);

/**
 * Splits a server's output into responses; throws unless it is a clean sequence of HTTP/1.1 responses.
 * A response to HEAD announces a Content-Length it does not send, and which requests were HEAD is not
 * known for mutated input: both readings are tried.
 */
function responses(out: Uint8Array): number[] {
  const problems: string[] = [];
  const statuses = responsesFrom(out, 0, problems);
  if (statuses === undefined) throw new Crash(problems[0] ?? 'unparsable output');
  return statuses;
}

function responsesFrom(out: Uint8Array, at: number, problems: string[]): number[] | undefined {
  if (at === out.length) return [];
  let end = -1;
  for (let i = at; i + 3 < out.length; i++) if (out[i] === 13 && out[i + 1] === 10 && out[i + 2] === 13 && out[i + 3] === 10) { end = i; break; }
  if (end < 0) return void problems.push(`truncated response head: ${JSON.stringify(latin1(out, at, Math.min(out.length, at + 80)))}`);
  const lines = latin1(out, at, end).split('\r\n');
  const match = /^HTTP\/1\.1 ([1-5]\d\d) [A-Za-z -]*$/.exec(lines[0]);
  if (match === null) return void problems.push(`bad status line ${JSON.stringify(lines[0])}`);
  const status = Number(match[1]);
  let length: number | undefined;
  let chunked = false;
  for (const line of lines.slice(1)) {
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [\x20-\x7e]*$/.test(line)) return void problems.push(`bad response field ${JSON.stringify(line)}`);
    const lower = line.toLowerCase();
    if (lower.startsWith('content-length: ')) length = Number(line.slice(16));
    if (lower === 'transfer-encoding: chunked') chunked = true;
  }
  const next = (from: number) => {
    const rest = responsesFrom(out, from, problems);
    return rest === undefined ? undefined : [status, ...rest];
  };
  let bodyStart = end + 4;
  if (status < 200) return next(bodyStart);
  const headReading = next(bodyStart);
  if (chunked) {
    for (;;) {
      let lineEnd = bodyStart;
      while (lineEnd + 1 < out.length && !(out[lineEnd] === 13 && out[lineEnd + 1] === 10)) lineEnd++;
      if (lineEnd + 1 >= out.length) return headReading ?? void problems.push('truncated chunked body');
      const size = parseInt(latin1(out, bodyStart, lineEnd), 16);
      if (!(size >= 0)) return headReading ?? void problems.push('bad chunk size');
      bodyStart = lineEnd + 2 + size + 2;
      if (size === 0) break;
    }
    return next(bodyStart) ?? headReading;
  }
  if (length === undefined) {
    // A streamed body to an HTTP/1.0 client ends with the connection.
    if (lines.some((line) => line.toLowerCase() === 'connection: close')) return [status];
    return void problems.push(`status ${status} without Content-Length, chunked or Connection: close`);
  }
  if (length > 0 && bodyStart + length <= out.length) return next(bodyStart + length) ?? headReading;
  return headReading;
}

describe('end to end through the connection', () => {
  test('any bytes: nothing or well-formed responses, never a 500 or an error log, connections reclaimed', async () => {
    const base = runtime();
    const errors: string[] = [];
    const shim: Runtime = Object.create(base) as Runtime;
    Object.assign(shim, { log: (level: LogLevel, message: string) => { if (level === 'error') errors.push(message); } });
    installRuntime(shim);
    // Timeouts of a few ms: requests that never complete are answered 408 quickly (virtual time on XS).
    const client = new TestClient(e2eApp(), { limits: { ...DEFAULT_LIMITS, maxBody: 1024, requestTimeout: 3, idleTimeout: 1, sendTimeout: 1000 } });
    const row = 'end to end (TestClient)';
    try {
      await fc.assert(fc.asyncProperty(e2eInput, async (input) => {
        const counts = tally.row(row);
        counts.tried++;
        const out = await client.exchange(input);
        try {
          if (client.server.connectionCount !== 0) throw new Crash(`connectionCount ${client.server.connectionCount} after the exchange`);
          if (errors.length > 0) throw new Crash(`logged: ${errors.join('; ')}`);
          const statuses = responses(out);
          if (statuses.includes(500)) throw new Crash(`500 for ${JSON.stringify(latin1(input).slice(0, 200))}`);
          for (const status of statuses) tally.saw(`e2e ${status}`);
          if (statuses.length === 0) tally.saw('e2e closed silently');
          if (statuses.length === 0 || statuses.some((s) => s >= 400)) counts.rejected++;
          else counts.accepted++;
        } catch (error) {
          if (error instanceof Crash) counts.crashes++;
          errors.length = 0;
          throw error;
        }
      }), params(fuzzRuns(600, 150, 0.1)));
    } finally {
      installRuntime(base);
    }
  });
});

// ---- regressions: bugs the properties found, pinned as plain tests --------------------------------------

describe('regressions found by fuzzing', () => {
  test('empty lines before the request line are bounded however they are split (was: unbounded when trickled)', () => {
    // Found by "one limit exceeded" and the split-independence check: the bound on leading CRLFs
    // (maxRequestLine) applied per push, so CRLFs sent a few at a time were never refused.
    const limits = resolveLimits({ maxRequestLine: 20 });
    const raw = latin1Bytes(`${'\r\n'.repeat(30)}GET / HTTP/1.1\r\nHost: d\r\n\r\n`);
    for (const piece of [raw.length, 7, 2, 1]) {
      const outcome = drive(limits, raw, [piece], true);
      assert.equal(outcome.error?.status, 400, `pieces of ${piece}`);
      assert.equal(outcome.requests.length, 0);
    }
    // Within the bound they are still skipped, however split, and counted afresh for each request.
    const ok = latin1Bytes(`${'\r\n'.repeat(10)}GET / HTTP/1.1\r\nHost: d\r\n\r\n`.repeat(3));
    for (const piece of [ok.length, 3, 1]) assert.equal(drive(limits, ok, [piece], true).requests.length, 3, `pieces of ${piece}`);
  });
});

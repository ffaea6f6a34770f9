/**
 * Incremental HTTP/1.x request parser. Bytes go in as they arrive, in any split; complete requests
 * come out in order (pipelining). Every limit is checked as soon as the bytes show the excess, before
 * routing, and each violation is an `HttpError` whose `close` flag says the stream can't be trusted.
 *
 * Framing rules (RFC 9112), stricter than a recipient may be, so that no peer reads a request
 * differently: every line of a head ends in CRLF — a bare LF or a bare CR anywhere (request line,
 * field lines, the empty line, empty lines before the request line) is 400 and close; one Content-Length
 * field with one value (a repeated field or a list, even of equal values, is 400); Content-Length with
 * Transfer-Encoding is 400; no whitespace before a field's colon and no obsolete line folding (400).
 */
import { concatBytes, latin1 } from './bytes';
import { HttpError } from './errors';
import { ParsedHeaders, isTokenByte, type Headers } from './headers';
import type { Limits } from './limits';
import { hasBareLineEnd, indexOf, isHeadSyntax, slice, startsWith } from './text';

export interface RequestHead {
  method: string;
  /** The request-target as sent (origin-form, or the path of an absolute-form target). */
  target: string;
  /**
   * The authority the request names (RFC 9112 §3.2.2): an absolute-form target's, else the Host value;
   * undefined for HTTP/1.0 without Host. Checked by the server (authority.ts), not here.
   */
  authority: string | undefined;
  /** The target was absolute-form (`http://host/path`): `authority` is the target's, not Host's. */
  absoluteForm: boolean;
  version: '1.0' | '1.1';
  headers: Headers;
  contentLength: number;
  /** The client allows the connection to stay open after this request. */
  keepAlive: boolean;
  /** `Expect: 100-continue` was sent: the client waits for a 100 before the body. */
  expectContinue: boolean;
  /**
   * Set only for a request whose route takes its body as a stream (BodyPolicy): its `maxStreamBody`.
   * The parser then leaves the body (Content-Length or chunked) on the connection for request.stream.
   */
  streamLimit?: number;
}

/**
 * Which requests take their body as a stream: the route's `maxStreamBody` for `method` and the
 * request-target, else undefined (the body is read whole, within maxBody). Asked only for heads that
 * announce a body.
 */
export type BodyPolicy = (method: string, target: string) => number | undefined;

/**
 * Each server's policy, by its Limits object: looked up only when a head is complete, so a parser (one
 * per connection) carries no field for it. Made on first use: a Map made while preloading is read-only on a device.
 */
let policies: WeakMap<Limits, BodyPolicy> | undefined;

/** Makes the parsers given `limits` ask `policy` which requests take a streamed body. */
export function setBodyPolicy(limits: Limits, policy: BodyPolicy): void {
  (policies ??= new WeakMap()).set(limits, policy);
}

export interface ParsedRequest {
  head: RequestHead;
  body: Uint8Array;
}

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const COLON = 58;
const EMPTY = new Uint8Array(0);
/** Bytes decoded first when looking for the end of a head (see #readHead). */
const HEAD_WINDOW = 512;

function fail(status: number, reason?: string): never {
  throw new HttpError(status, reason, { close: true });
}

/** The parser of one connection. Its private methods are static: XS gives every instance a slot per private method. */
export class RequestParser {
  readonly #limits: Limits;
  /** Received bytes not yet consumed: the head being read, or what follows a request. */
  #buffer: Uint8Array = EMPTY;
  /** Empty-line bytes skipped before the current request line, however they were split. */
  #skipped = 0;
  #head: RequestHead | undefined;
  #body: Uint8Array = EMPTY;
  #bodyFilled = 0;

  constructor(limits: Limits) {
    this.#limits = limits;
  }

  /** The head of the request being received, once complete (for `100 Continue`). */
  get head(): RequestHead | undefined {
    return this.#head;
  }

  /** True when some bytes of a next request have arrived (then an idle close would lose them). */
  get hasPartialRequest(): boolean {
    return this.#head !== undefined || this.#buffer.length > 0;
  }

  /** How many more bytes the parser may take now without exceeding a limit (plus one to see an excess). */
  get wants(): number {
    if (this.#head !== undefined) return this.#body.length - this.#bodyFilled;
    // The most bytes a head within the limits can take (line + CRLF, fields, blank line), plus one.
    const room = this.#limits.maxRequestLine + this.#limits.maxHeaderBytes + 5 - this.#buffer.length;
    return room > 0 ? room : 0;
  }

  /** Adds received bytes. */
  push(bytes: Uint8Array): void {
    if (this.#head !== undefined && this.#bodyFilled < this.#body.length) {
      const take = Math.min(bytes.length, this.#body.length - this.#bodyFilled);
      this.#body.set(bytes.subarray(0, take), this.#bodyFilled);
      this.#bodyFilled += take;
      bytes = bytes.subarray(take);
    }
    if (bytes.length > 0) this.#buffer = concatBytes(this.#buffer, bytes);
  }

  /**
   * Returns the next complete request, or undefined while more bytes are needed.
   * Throws HttpError (with `close`) for malformed or oversized input.
   */
  next(): ParsedRequest | undefined {
    if (this.#head === undefined && !RequestParser.#readHead(this)) return undefined;
    const head = this.#head as RequestHead;
    if (this.#bodyFilled < this.#body.length) {
      if (this.#buffer.length > 0) this.push(RequestParser.#takeBuffered(this, this.#body.length - this.#bodyFilled));
      if (this.#bodyFilled < this.#body.length) return undefined;
    }
    const request = { head, body: this.#body };
    this.#head = undefined;
    this.#body = EMPTY;
    this.#bodyFilled = 0;
    return request;
  }

  /** Every byte received and not yet parsed (a streamed body's first bytes); the parser keeps none. */
  takeBuffered(): Uint8Array {
    return RequestParser.#takeBuffered(this, this.#buffer.length);
  }

  static #takeBuffered(parser: RequestParser, max: number): Uint8Array {
    const taken = parser.#buffer.subarray(0, Math.min(max, parser.#buffer.length));
    parser.#buffer = parser.#buffer.subarray(taken.length);
    if (parser.#buffer.length === 0) parser.#buffer = EMPTY;
    return taken;
  }

  /** Finds and parses a complete head in the buffer; false when more bytes are needed. */
  static #readHead(parser: RequestParser): boolean {
    const buffer = parser.#buffer;
    const limits = parser.#limits;
    // Read once: on XS a typed array's `length` is a native call.
    const size = buffer.length;
    const first = buffer[0];
    if (first === CR || first === LF) {
      // RFC 9112 §2.2: ignore empty lines (CRLF) before a request line, bounded by the line limit.
      let start = 0;
      while (start + 1 < size && buffer[start] === CR && buffer[start + 1] === LF) start += 2;
      if (start < size && (buffer[start] === LF || (buffer[start] === CR && start + 1 < size))) fail(400, 'Bare LF or CR in head');
      if (start > 0) {
        parser.#skipped += start;
        if (parser.#skipped > limits.maxRequestLine) fail(400);
        parser.#buffer = buffer.subarray(start);
        return RequestParser.#readHead(parser);
      }
    }
    // The bytes as text, scanned by native string searches (text.ts); the head ends at the first empty
    // line. The first HEAD_WINDOW bytes hold nearly every head; beyond them the end is found byte by
    // byte, so that a body that came with the head (bytes of any value, slow to decode) is not decoded.
    let decoded = size < HEAD_WINDOW ? size : HEAD_WINDOW;
    let text = latin1(buffer, 0, decoded);
    let at = indexOf.call(text, '\r\n\r\n');
    if (at < 0 && decoded < size) {
      const found = headEnd(buffer, decoded - 3);
      decoded = found < 0 ? size : found;
      text = latin1(buffer, 0, decoded);
      at = found - 4;
    }
    if (at < 0) {
      // No complete head yet: refuse a bare CR or LF now (request smuggling, see bareLineEnds), and
      // bytes that already exceed what a limit allows.
      if (hasBareLineEnd(text)) bareLineEnds(buffer, size);
      const lineEnd = indexOf.call(text, '\n');
      if (lineEnd < 0) {
        if (size > limits.maxRequestLine + 1) fail(414);
      } else {
        if (lineEnd > limits.maxRequestLine + 1) fail(414);
        if (size - lineEnd - 1 > limits.maxHeaderBytes + 2) fail(431);
      }
      return false;
    }
    const end = at + 4;
    parser.#head = parseHead(end === decoded ? text : slice.call(text, 0, end), end, buffer, limits, policies?.get(limits));
    parser.#skipped = 0;
    parser.#buffer = end === size ? EMPTY : buffer.subarray(end);
    // A streamed body stays in the buffer and on the socket: the connection hands it to request.stream.
    const length = parser.#head.streamLimit === undefined ? parser.#head.contentLength : 0;
    parser.#body = length > 0 ? new Uint8Array(length) : EMPTY;
    parser.#bodyFilled = 0;
    return true;
  }
}

/**
 * Index just past the first CRLF CRLF in `bytes` at or after `from`, or -1: the end of a head longer than
 * HEAD_WINDOW, looked for byte by byte so that a body that came with it is not decoded as text.
 */
function headEnd(bytes: Uint8Array, from: number): number {
  for (let i = Math.max(from, 0) + 3; i < bytes.length; i++) {
    if (bytes[i] === LF && bytes[i - 1] === CR && bytes[i - 2] === LF && bytes[i - 3] === CR) return i + 1;
  }
  return -1;
}

/**
 * Throws 400 at the first bare CR or bare LF in `bytes[0..end)`, saying which (a CR at the very end
 * waits for the byte after it). Every line of a head ends with CRLF, so a head never means one thing to
 * a peer that splits lines on LF and another to one that splits on CRLF (request smuggling). Runs
 * only once a native search (text.ts) found something wrong.
 */
function bareLineEnds(bytes: Uint8Array, end: number): void {
  for (let i = 0; i < end; i++) {
    const c = bytes[i];
    if (c === CR) {
      if (i + 1 < end && bytes[i + 1] !== LF) fail(400, 'Bare CR in head');
    } else if (c === LF && (i === 0 || bytes[i - 1] !== CR)) fail(400, 'Bare LF in head');
  }
}

/**
 * Parses a complete head: `text` is the head as Latin-1 text (one character a byte) from its first
 * byte through its empty line, `end` characters long, and `bytes[0..end)` the same bytes (read where a
 * single character is checked: a byte read costs a third of a `charCodeAt` call on XS). Valid syntax
 * is checked by one regular expression (text.ts `isHeadSyntax`), the limits by offsets; the fields are
 * then only indexed (ParsedHeaders): a field's strings are made when it is read. The strings made here
 * are the method (none for a known one) and the target.
 */
export function parseHead(text: string, end: number, bytes: Uint8Array, limits: Limits, policy?: BodyPolicy): RequestHead {
  if (!isHeadSyntax(text)) headError(bytes, end, limits);
  const lineEnd = indexOf.call(text, '\r\n');
  if (lineEnd > limits.maxRequestLine) fail(414);
  const firstSpace = indexOf.call(text, ' ');
  const secondSpace = indexOf.call(text, ' ', firstSpace + 1);
  const method = knownMethod(text, firstSpace) ?? slice.call(text, 0, firstSpace);
  const rawTarget = slice.call(text, firstSpace + 1, secondSpace);
  const target = parseTarget(rawTarget, bytes[firstSpace + 1]);
  // `HTTP/d.d`, its digits checked by the syntax.
  if (bytes[lineEnd - 3] !== 0x31) fail(505);
  const version = bytes[lineEnd - 1] === 0x30 ? '1.0' : '1.1';

  // Field lines with their line ends count; the blank line ending the head does not (as in `wants`).
  const fieldsStart = lineEnd + 2;
  const fieldsEnd = end - 2;
  if (fieldsEnd - fieldsStart > limits.maxHeaderBytes) fail(431);
  let count = 0;
  for (let start = fieldsStart; start < fieldsEnd; start = indexOf.call(text, '\r\n', start) + 2) count++;
  if (count > limits.maxHeaders) fail(431, 'Too many header fields');
  const index = end > 0xffff ? new Uint32Array(count * 3) : new Uint16Array(count * 3);
  // Which framing fields may be present, and whether Host may be repeated, by the lengths of the
  // names: most heads have none of these, and need no lookup for them (each is a search of every field).
  let framing = 0;
  for (let i = 0, start = fieldsStart; i < count * 3; i += 3) {
    const lineStop = indexOf.call(text, '\r\n', start);
    const colon = indexOf.call(text, ':', start);
    index[i] = start;
    index[i + 1] = colon;
    index[i + 2] = lineStop;
    const length = colon - start;
    if (length === 14 || length === 17) framing |= MAY_HAVE_BODY; // content-length, transfer-encoding
    else if (length === 6) framing |= MAY_EXPECT;
    else if (length === 4) framing |= (framing & HOST_SEEN) !== 0 ? MAY_REPEAT_HOST : HOST_SEEN;
    start = lineStop + 2;
  }
  const headers = new ParsedHeaders(text, index);
  // Only an app with streaming routes has a policy; only a head announcing a body asks it.
  const streamLimit = policy !== undefined && (framing & MAY_HAVE_BODY) !== 0 && (headers.countLower('content-length') > 0 || headers.countLower('transfer-encoding') > 0) ? policy(method, target) : undefined;
  const head = completeHead(method, target, version, headers, framing, limits, target === rawTarget ? undefined : targetAuthority(rawTarget), streamLimit);
  if (streamLimit !== undefined) head.streamLimit = streamLimit;
  return head;
}

/**
 * Throws the first error of an invalid head `bytes[0..end)`, as its bytes show it in order: a bare CR
 * or LF, then the request line (414 when too long, then method, target, version), then each field line
 * (431 when the fields pass a limit, then its syntax). Only heads that fail `isHeadSyntax` come here,
 * so the common path never loops over bytes.
 */
function headError(bytes: Uint8Array, end: number, limits: Limits): never {
  bareLineEnds(bytes, end);
  let lineEnd = indexOfLF(bytes, 0, end);
  const lineStop = stopOf(bytes, 0, lineEnd);
  if (lineStop > limits.maxRequestLine) fail(414);
  let firstSpace = -1;
  let secondSpace = -1;
  for (let i = 0; i < lineStop; i++) {
    if (bytes[i] !== SP) continue;
    if (firstSpace < 0) firstSpace = i;
    else if (secondSpace < 0) secondSpace = i;
    else fail(400, 'Malformed request line');
  }
  if (firstSpace <= 0 || secondSpace < 0) fail(400, 'Malformed request line');
  for (let i = 0; i < firstSpace; i++) if (!isTokenByte(bytes[i])) fail(400, 'Malformed method');
  for (let i = firstSpace + 1; i < secondSpace; i++) {
    if (bytes[i] <= 32 || bytes[i] >= 127) fail(400, 'Invalid character in request target');
  }
  parseVersion(bytes, secondSpace + 1, lineStop);
  let headerBytes = 0;
  let count = 0;
  for (let start = lineEnd + 1; ; start = lineEnd + 1) {
    lineEnd = indexOfLF(bytes, start, end);
    const stop = stopOf(bytes, start, lineEnd);
    if (stop === start) break;
    headerBytes += lineEnd + 1 - start;
    if (headerBytes > limits.maxHeaderBytes) fail(431);
    if (++count > limits.maxHeaders) fail(431, 'Too many header fields');
    // A token, then the colon: obsolete line folding and whitespace before the colon are refused
    // (RFC 9112 §5.1, §5.2).
    let colon = start;
    while (colon < stop && isTokenByte(bytes[colon])) colon++;
    if (colon === start || colon === stop || bytes[colon] !== COLON) fail(400, 'Malformed header field');
    for (let i = colon + 1; i < stop; i++) {
      const c = bytes[i];
      if ((c < 32 && c !== HT) || c === 127) fail(400, 'Invalid character in header field');
    }
  }
  fail(400, 'Malformed head');
}

/** Methods whose names cost no string per request (the request line's method is case-sensitive, RFC 9110 §9.1). */
const KNOWN_METHODS: readonly string[] = Object.freeze(['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** Their lengths: on XS reading a string's `length` boxes it (2 slots). */
const KNOWN_METHOD_LENGTHS: readonly number[] = Object.freeze(KNOWN_METHODS.map((method) => method.length));

/** The known method `text[0..length)` spells exactly, or undefined. */
function knownMethod(text: string, length: number): string | undefined {
  for (let k = 0; k < KNOWN_METHODS.length; k++) if (KNOWN_METHOD_LENGTHS[k] === length && startsWith.call(text, KNOWN_METHODS[k])) return KNOWN_METHODS[k];
  return undefined;
}

function indexOfLF(bytes: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) if (bytes[i] === LF) return i;
  return end;
}

/**
 * Where the line `[start, lineEnd)` stops, without its CR; a line not ended by CRLF is refused. A CR
 * inside a line is refused by the character checks of the method, target, version, names and values.
 */
function stopOf(bytes: Uint8Array, start: number, lineEnd: number): number {
  if (lineEnd <= start || bytes[lineEnd - 1] !== CR) fail(400, 'Bare LF in head');
  return lineEnd - 1;
}

/**
 * `framing` bits of parseHead: a name of the length of Content-Length or Transfer-Encoding; of Expect;
 * one name of the length of Host, two or more.
 */
const MAY_HAVE_BODY = 1;
const MAY_EXPECT = 2;
const HOST_SEEN = 4;
const MAY_REPEAT_HOST = 8;

/** Applies the message-framing and connection rules of RFC 9112 to a parsed head. */
function completeHead(method: string, target: string, version: '1.0' | '1.1', headers: Headers, framing: number, limits: Limits, targetAuthority: string | undefined, streamLimit: number | undefined): RequestHead {
  // One search for Host: fields of one name are joined with ", ", which no valid authority holds.
  const host = headers.getLower('host');
  if (host === undefined ? version === '1.1' : (framing & MAY_REPEAT_HOST) !== 0 && indexOf.call(host, ', ') >= 0 && headers.countLower('host') > 1) fail(400, 'Missing or repeated Host');

  const mayHaveBody = (framing & MAY_HAVE_BODY) !== 0;
  const transferEncoding = mayHaveBody ? headers.getLower('transfer-encoding') : undefined;
  const lengths = mayHaveBody ? headers.countLower('content-length') : 0;
  if (transferEncoding !== undefined) {
    // Both framings at once is the request-smuggling shape: refuse. Chunked bodies are not accepted
    // (they could not be bounded before reading): 411 asks for a Content-Length; other codings: 501.
    if (lengths > 0) fail(400, 'Both Transfer-Encoding and Content-Length');
    // A streamed body may be chunked (body.ts decodes it); no other coding is accepted.
    if (streamLimit !== undefined && headers.countLower('transfer-encoding') === 1 && transferEncoding.trim().toLowerCase() === 'chunked') {
      if (version === '1.0') fail(400, 'Chunked body from an HTTP/1.0 client');
    } else if (transferEncoding.toLowerCase().split(',').pop()?.trim() === 'chunked') fail(411, 'Chunked request bodies are not accepted; send Content-Length');
    else fail(501, 'Transfer-Encoding not supported');
  }
  // One Content-Length field with one value: a repeated field or a list, even of equal values, is
  // refused (RFC 9110 §8.6 and RFC 9112 §6.3 allow that), because peers disagree on which copy counts.
  let contentLength = 0;
  if (lengths > 1) fail(400, 'Repeated Content-Length');
  if (lengths === 1) {
    contentLength = parseLength(headers.getLower('content-length') as string);
    // A streamed body has its own limit, checked by request.stream (body.ts).
    if (contentLength > limits.maxBody && streamLimit === undefined) fail(413);
  }

  const expect = (framing & MAY_EXPECT) !== 0 ? headers.getLower('expect') : undefined;
  let expectContinue = false;
  if (expect !== undefined) {
    if (expect.toLowerCase() !== '100-continue') throw new HttpError(417, undefined, { close: contentLength > 0 });
    expectContinue = version === '1.1';
  }

  const connection = headers.getLower('connection') ?? '';
  const keepAlive = version === '1.1' ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive');
  const absoluteForm = targetAuthority !== undefined;
  return { method, target, authority: absoluteForm ? targetAuthority : host, absoluteForm, version, headers, contentLength, keepAlive, expectContinue };
}

/** The decimal digits of a Content-Length value (at most 15, so the number is exact); 400 otherwise. */
function parseLength(value: string): number {
  if (value.length === 0 || value.length > 15) fail(400, 'Invalid Content-Length');
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 48;
    if (!(digit >= 0 && digit <= 9)) fail(400, 'Invalid Content-Length');
    n = n * 10 + digit;
  }
  return n;
}

/** Origin-form, `*`, or the path and query of an absolute-form target (its bytes are already checked; `first` is its first). */
function parseTarget(target: string, first: number): string {
  if (first === 47 /* / */ || target === '*') return target;
  // Absolute-form (RFC 9112 §3.2.2): keep the path and query.
  const scheme = target.indexOf('://');
  if (scheme > 0 && /^https?$/i.test(target.slice(0, scheme))) {
    const path = target.indexOf('/', scheme + 3);
    const query = target.indexOf('?', scheme + 3);
    if (path < 0) return query < 0 ? '/' : '/' + target.slice(query);
    return query >= 0 && query < path ? '/' + target.slice(query) : target.slice(path);
  }
  fail(400, 'Invalid request target');
}

/** The authority of an absolute-form target (`http://host:port/path` → `host:port`); '' when empty. */
function targetAuthority(target: string): string {
  const start = target.indexOf('://') + 3;
  let end = start;
  while (end < target.length && target[end] !== '/' && target[end] !== '?' && target[end] !== '#') end++;
  return target.slice(start, end);
}

/** `HTTP/1.x` → its version; other majors 505, anything else 400. */
function parseVersion(bytes: Uint8Array, start: number, stop: number): '1.0' | '1.1' {
  const major = bytes[start + 5] - 48;
  const minor = bytes[start + 7] - 48;
  if (stop - start !== 8 || bytes[start] !== 72 || bytes[start + 1] !== 84 || bytes[start + 2] !== 84 || bytes[start + 3] !== 80
    || bytes[start + 4] !== 47 || bytes[start + 6] !== 46 || !(major >= 0 && major <= 9) || !(minor >= 0 && minor <= 9)) {
    fail(400, 'Malformed HTTP version');
  }
  if (major !== 1) fail(505);
  return minor === 0 ? '1.0' : '1.1';
}

/** True when the comma-separated `list` holds `token` (lower case), in any case. */
function hasToken(list: string, token: string): boolean {
  // The common values cost no string: only another spelling is lower-cased and split.
  if (list === token) return true;
  if (list === '') return false;
  const lower = list.toLowerCase();
  if (lower.indexOf(',') < 0) return lower.trim() === token;
  for (const part of lower.split(',')) if (part.trim() === token) return true;
  return false;
}

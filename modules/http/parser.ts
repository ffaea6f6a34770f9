/**
 * Incremental HTTP/1.x request parser. Bytes go in as they arrive, in any split; complete requests
 * come out in order (pipelining). Every limit is checked as soon as the bytes show the excess, before
 * routing, and each violation is an `HttpError` whose `close` flag says the stream can't be trusted.
 */
import { concatBytes, latin1 } from './bytes';
import { HttpError } from './errors';
import { Headers, isToken } from './headers';
import type { Limits } from './limits';

export interface RequestHead {
  method: string;
  /** The request-target as sent (origin-form, or the path of an absolute-form target). */
  target: string;
  version: '1.0' | '1.1';
  headers: Headers;
  contentLength: number;
  /** The client allows the connection to stay open after this request. */
  keepAlive: boolean;
  /** `Expect: 100-continue` was sent: the client waits for a 100 before the body. */
  expectContinue: boolean;
}

export interface ParsedRequest {
  head: RequestHead;
  body: Uint8Array;
}

const CR = 13;
const LF = 10;
const EMPTY = new Uint8Array(0);

function fail(status: number, reason?: string): never {
  throw new HttpError(status, reason, { close: true });
}

export class RequestParser {
  readonly #limits: Limits;
  /** Received bytes not yet consumed: the head being read, or what follows a request. */
  #buffer: Uint8Array = EMPTY;
  /** Where the search for the end of the head resumes, so each byte is scanned once. */
  #scanned = 0;
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
    return Math.max(0, this.#headAllowance + 1 - this.#buffer.length);
  }

  /** The most bytes a head within the limits can take: line + CRLF, fields, blank line. */
  get #headAllowance(): number {
    return this.#limits.maxRequestLine + this.#limits.maxHeaderBytes + 4;
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
    if (this.#head === undefined && !this.#readHead()) return undefined;
    const head = this.#head as RequestHead;
    if (this.#bodyFilled < this.#body.length) {
      if (this.#buffer.length > 0) this.push(this.#takeBuffered(this.#body.length - this.#bodyFilled));
      if (this.#bodyFilled < this.#body.length) return undefined;
    }
    const request = { head, body: this.#body };
    this.#head = undefined;
    this.#body = EMPTY;
    this.#bodyFilled = 0;
    return request;
  }

  #takeBuffered(max: number): Uint8Array {
    const taken = this.#buffer.subarray(0, Math.min(max, this.#buffer.length));
    this.#buffer = this.#buffer.subarray(taken.length);
    if (this.#buffer.length === 0) this.#buffer = EMPTY;
    return taken;
  }

  /** Finds and parses a complete head in the buffer; false when more bytes are needed. */
  #readHead(): boolean {
    const buffer = this.#buffer;
    const limits = this.#limits;
    // RFC 9112 §2.2: ignore empty lines before a request line (bounded by the line limit).
    let start = 0;
    while (start < buffer.length && (buffer[start] === CR || buffer[start] === LF)) start++;
    if (start > 0) {
      this.#skipped += start;
      if (this.#skipped > limits.maxRequestLine) fail(400);
      this.#buffer = buffer.subarray(start);
      this.#scanned = 0;
      return this.#readHead();
    }
    const end = this.#findHeadEnd();
    if (end < 0) {
      // No complete head yet: refuse as soon as the bytes already exceed what a limit allows.
      const lineEnd = buffer.indexOf(LF);
      if (lineEnd < 0) {
        if (buffer.length > limits.maxRequestLine + 1) fail(414);
      } else {
        if (lineEnd > limits.maxRequestLine + 1) fail(414);
        if (buffer.length - lineEnd - 1 > limits.maxHeaderBytes + 2) fail(431);
      }
      return false;
    }
    this.#head = parseHead(latin1(buffer, 0, end), limits);
    this.#skipped = 0;
    this.#buffer = buffer.subarray(end);
    if (this.#buffer.length === 0) this.#buffer = EMPTY;
    this.#scanned = 0;
    const length = this.#head.contentLength;
    this.#body = length > 0 ? new Uint8Array(length) : EMPTY;
    this.#bodyFilled = 0;
    return true;
  }

  /** Index just past the blank line ending the head, or -1. Accepts CRLF or bare LF line ends. */
  #findHeadEnd(): number {
    const buffer = this.#buffer;
    for (let i = Math.max(this.#scanned, 1); i < buffer.length; i++) {
      if (buffer[i] !== LF) continue;
      if (buffer[i - 1] === LF) return i + 1;
      if (buffer[i - 1] === CR && i >= 2 && buffer[i - 2] === LF) return i + 1;
    }
    this.#scanned = buffer.length;
    return -1;
  }
}

/** Parses a complete head (request line + fields + blank line) given as Latin-1 text. */
export function parseHead(text: string, limits: Limits): RequestHead {
  let lineEnd = text.indexOf('\n');
  const requestLine = stripCR(text, 0, lineEnd);
  if (requestLine.length > limits.maxRequestLine) fail(414);
  const firstSpace = requestLine.indexOf(' ');
  const secondSpace = requestLine.indexOf(' ', firstSpace + 1);
  if (firstSpace <= 0 || secondSpace < 0 || requestLine.indexOf(' ', secondSpace + 1) >= 0) fail(400, 'Malformed request line');
  const method = requestLine.slice(0, firstSpace);
  if (!isToken(method)) fail(400, 'Malformed method');
  const target = parseTarget(requestLine.slice(firstSpace + 1, secondSpace));
  const version = parseVersion(requestLine.slice(secondSpace + 1));

  const headers = new Headers();
  let headerBytes = 0;
  let count = 0;
  let start = lineEnd + 1;
  for (;;) {
    lineEnd = text.indexOf('\n', start);
    const line = stripCR(text, start, lineEnd);
    if (line.length === 0) break;
    // Field lines with their line ends count; the blank line ending the head does not (as in #headAllowance).
    headerBytes += lineEnd + 1 - start;
    start = lineEnd + 1;
    if (headerBytes > limits.maxHeaderBytes) fail(431);
    if (++count > limits.maxHeaders) fail(431, 'Too many header fields');
    // Obsolete line folding is refused (RFC 9112 §5.2), as is whitespace before the colon (§5.1).
    const colon = line.indexOf(':');
    if (colon <= 0) fail(400, 'Malformed header field');
    const name = line.slice(0, colon);
    if (!isToken(name)) fail(400, 'Malformed header field');
    const value = trimOWS(line, colon + 1);
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if ((c < 32 && c !== 9) || c === 127) fail(400, 'Invalid character in header field');
    }
    headers.appendParsed(name.toLowerCase(), value);
  }
  return completeHead(method, target, version, headers, limits);
}

/** Applies the message-framing and connection rules of RFC 9112 to a parsed head. */
function completeHead(method: string, target: string, version: '1.0' | '1.1', headers: Headers, limits: Limits): RequestHead {
  const hosts = headers.getAll('host');
  if (hosts.length > 1 || (version === '1.1' && hosts.length === 0)) fail(400, 'Missing or repeated Host');

  const transferEncoding = headers.get('transfer-encoding');
  const lengths = headers.getAll('content-length');
  if (transferEncoding !== undefined) {
    // Both framings at once is the request-smuggling shape: refuse. Chunked bodies are not accepted
    // (they could not be bounded before reading): 411 asks for a Content-Length; other codings: 501.
    if (lengths.length > 0) fail(400, 'Both Transfer-Encoding and Content-Length');
    if (transferEncoding.toLowerCase().split(',').pop()?.trim() === 'chunked') fail(411, 'Chunked request bodies are not accepted; send Content-Length');
    fail(501, 'Transfer-Encoding not supported');
  }
  let contentLength = 0;
  if (lengths.length > 0) {
    const value = lengths.join(',');
    let parsed = -1;
    for (const part of value.split(',')) {
      const digits = part.trim();
      if (digits.length === 0 || digits.length > 15 || !/^[0-9]+$/.test(digits)) fail(400, 'Invalid Content-Length');
      const n = Number(digits);
      if (parsed >= 0 && n !== parsed) fail(400, 'Conflicting Content-Length');
      parsed = n;
    }
    contentLength = parsed;
    if (contentLength > limits.maxBody) fail(413);
  }

  const expect = headers.get('expect');
  let expectContinue = false;
  if (expect !== undefined) {
    if (expect.toLowerCase() !== '100-continue') throw new HttpError(417, undefined, { close: contentLength > 0 });
    expectContinue = version === '1.1';
  }

  const connection = headers.get('connection')?.toLowerCase() ?? '';
  const keepAlive = version === '1.1' ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive');
  return { method, target, version, headers, contentLength, keepAlive, expectContinue };
}

function parseTarget(target: string): string {
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 32 || c >= 127) fail(400, 'Invalid character in request target');
  }
  if (target.charCodeAt(0) === 47 /* / */ || target === '*') return target;
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

function parseVersion(text: string): '1.0' | '1.1' {
  if (text.length !== 8 || !text.startsWith('HTTP/') || text[6] !== '.') fail(400, 'Malformed HTTP version');
  const major = text.charCodeAt(5) - 48;
  const minor = text.charCodeAt(7) - 48;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) fail(400, 'Malformed HTTP version');
  if (major !== 1) fail(505);
  return minor === 0 ? '1.0' : '1.1';
}

function stripCR(text: string, start: number, end: number): string {
  const line = text.slice(start, end > 0 && text.charCodeAt(end - 1) === CR ? end - 1 : end);
  if (line.indexOf('\r') >= 0) fail(400, 'Bare CR in head');
  return line;
}

function trimOWS(text: string, start: number): string {
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 32 || text.charCodeAt(start) === 9)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 32 || text.charCodeAt(end - 1) === 9)) end--;
  return text.slice(start, end);
}

function hasToken(list: string, token: string): boolean {
  for (const part of list.split(',')) if (part.trim() === token) return true;
  return false;
}

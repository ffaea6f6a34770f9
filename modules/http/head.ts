/**
 * Response heads as bytes (RFC 9112 §4, §5): status line, the app's fields (a Content-Type the framework
 * set first), the server's framing fields, the blank line, and a small body after them, written into a
 * buffer the caller reuses. The constant
 * pieces — every status line the server names, the framing fields, the framework's Content-Type lines —
 * are encoded once when the module loads (read-only bytes: in flash when preloaded), so a common
 * response allocates nothing here; other fields are encoded by the host's native UTF-8 encoder.
 */
import { runtime } from '../runtime';
import { latin1Bytes } from './bytes';
import { STATUS_TEXT } from './errors';
import type { Headers } from './headers';

export type Framing = 'length' | 'chunked' | 'none';
export type ConnectionField = 'close' | 'keep-alive' | 'upgrade' | 'none';

const EMPTY = new Uint8Array(0);
const CONTENT_LENGTH = latin1Bytes('Content-Length: ');
const CHUNKED = latin1Bytes('Transfer-Encoding: chunked\r\n');
const CLOSE = latin1Bytes('Connection: close\r\n');
const KEEP_ALIVE = latin1Bytes('Connection: keep-alive\r\n');
const UPGRADE = latin1Bytes('Connection: Upgrade\r\n');

/** The statuses STATUS_TEXT names, and the status line of each (the server speaks HTTP/1.1 to every 1.x client, RFC 9110 §6.2). */
const STATUS_CODES: readonly number[] = Object.freeze(Object.keys(STATUS_TEXT).map(Number));
const STATUS_LINES: readonly Uint8Array[] = Object.freeze(STATUS_CODES.map((status) => latin1Bytes(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\n`)));

/** The Content-Type values Response sets itself (response.ts), and their lines. */
const CONTENT_TYPES: readonly string[] = Object.freeze(['text/plain; charset=utf-8', 'text/html; charset=utf-8', 'application/json', 'application/octet-stream']);
const CONTENT_TYPE_LINES: readonly Uint8Array[] = Object.freeze(CONTENT_TYPES.map((type) => latin1Bytes(`Content-Type: ${type}\r\n`)));

/** Fields the server writes itself, from the body it sends: never copied from the app's headers. */
const FRAMING_FIELDS: readonly string[] = Object.freeze(['content-length', 'transfer-encoding', 'connection']);

/** Copies `bytes` to `out` at `at` when they fit; returns the position after them either way. */
function put(out: Uint8Array, at: number, bytes: Uint8Array): number {
  if (at + bytes.length <= out.length) out.set(bytes, at);
  return at + bytes.length;
}

/** Decimal digits of a non-negative integer. */
function digitCount(value: number): number {
  let count = 1;
  while (value >= 10) {
    value = Math.floor(value / 10);
    count++;
  }
  return count;
}

/** The framework's Content-Type line `raw[i..i+3)` is, or -1. */
function contentTypeLine(raw: readonly string[], i: number): number {
  return raw[i] === 'content-type' && raw[i + 1] === 'Content-Type' ? CONTENT_TYPES.indexOf(raw[i + 2]) : -1;
}

/**
 * The app's fields but the framing fields and a pre-encoded Content-Type line, as `name: value\r\n`
 * lines in order, in one native UTF-8 encode (a per-character loop allocates on XS, and a non-Latin-1
 * value keeps its characters); undefined when there are none. Pass it to `writeHead`.
 */
export function encodeFields(fields: Headers | undefined): Uint8Array | undefined {
  if (fields === undefined) return undefined;
  const raw = fields.raw;
  let text = '';
  for (let i = 0; i < raw.length; i += 3) {
    if (!FRAMING_FIELDS.includes(raw[i]) && contentTypeLine(raw, i) < 0) text += `${raw[i + 1]}: ${raw[i + 2]}\r\n`;
  }
  return text === '' ? undefined : runtime().utf8Encode(text);
}

/**
 * Writes the head — and `body` after it, when given — into `out` from index 0; returns its length.
 * When that is more than `out.length`, `out` holds only part of it: write again into a buffer that
 * long. `other` is `encodeFields(fields)`; `length` the Content-Length for `framing` 'length'.
 */
export function writeHead(out: Uint8Array, status: number, fields: Headers | undefined, other: Uint8Array | undefined, framing: Framing, length: number, connection: ConnectionField, body?: Uint8Array): number {
  const known = STATUS_CODES.indexOf(status);
  let at = put(out, 0, known >= 0 ? STATUS_LINES[known] : latin1Bytes(`HTTP/1.1 ${status} \r\n`));
  if (fields !== undefined) {
    const raw = fields.raw;
    for (let i = 0; i < raw.length; i += 3) {
      const type = contentTypeLine(raw, i);
      if (type >= 0 && !FRAMING_FIELDS.includes(raw[i])) at = put(out, at, CONTENT_TYPE_LINES[type]);
    }
  }
  if (other !== undefined) at = put(out, at, other);
  if (framing === 'length') {
    at = put(out, at, CONTENT_LENGTH);
    const digits = digitCount(length);
    if (at + digits + 2 <= out.length) {
      for (let i = digits, rest = length; i > 0; i--, rest = Math.floor(rest / 10)) out[at + i - 1] = 48 + (rest % 10);
      out[at + digits] = 13;
      out[at + digits + 1] = 10;
    }
    at += digits + 2;
  } else if (framing === 'chunked') {
    at = put(out, at, CHUNKED);
  }
  if (connection !== 'none') at = put(out, at, connection === 'close' ? CLOSE : connection === 'keep-alive' ? KEEP_ALIVE : UPGRADE);
  if (at + 2 <= out.length) {
    out[at] = 13;
    out[at + 1] = 10;
  }
  at += 2;
  return body === undefined ? at : put(out, at, body);
}

/** The head (and `body`) in a new buffer of its exact length. */
export function encodeHead(status: number, fields: Headers | undefined, framing: Framing, length: number, connection: ConnectionField, body?: Uint8Array): Uint8Array {
  const other = encodeFields(fields);
  const out = new Uint8Array(writeHead(EMPTY, status, fields, other, framing, length, connection, body));
  writeHead(out, status, fields, other, framing, length, connection, body);
  return out;
}

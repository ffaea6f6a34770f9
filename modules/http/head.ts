/**
 * Response heads as bytes (RFC 9112 §4, §5): status line, the app's fields, the server's framing
 * fields, the blank line, and a small body after them, written into a buffer the caller reuses. The
 * constant pieces — every status line the server names, the framing fields, the field lines the
 * framework sets itself (Content-Type, a session's Vary and Cache-Control) — are encoded once when the
 * module loads (read-only bytes: in flash when preloaded), so a common response allocates nothing
 * here; other fields are encoded by the host's native UTF-8 encoder.
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
const STATUS_OK = STATUS_CODES.indexOf(200);

/** Fields the server writes itself, from the body it sends: never copied from the app's headers. */
const FRAMING_FIELDS: readonly string[] = Object.freeze(['content-length', 'transfer-encoding', 'connection']);

/** A field line the framework sets itself, pre-encoded. */
interface KnownLine {
  readonly lower: string;
  readonly name: string;
  readonly bytes: Uint8Array;
}

/**
 * The lines the framework sets itself, `[name, value]`: the Content-Type of each body Response makes
 * (response.ts), and what a session answer carries (session.ts). Their values differ. At most 31.
 */
const KNOWN_FIELDS: readonly (readonly [string, string])[] = Object.freeze([
  ['Content-Type', 'text/plain; charset=utf-8'],
  ['Content-Type', 'text/html; charset=utf-8'],
  ['Content-Type', 'application/json'],
  ['Content-Type', 'application/octet-stream'],
  ['Vary', 'Cookie'],
  ['Cache-Control', 'private'],
] as const);
const KNOWN_LINES: readonly KnownLine[] = Object.freeze(KNOWN_FIELDS.map(([name, value]) =>
  Object.freeze({ lower: name.toLowerCase(), name, bytes: latin1Bytes(`${name}: ${value}\r\n`) })));

/** Each known line's index, by its value. */
const KNOWN_BY_VALUE: ReadonlyMap<string, number> = new Map(KNOWN_FIELDS.map(([, value], k) => [value, k]));

/** The index of the known line `raw[i..i+3)` is, or -1. */
function knownLine(raw: readonly string[], i: number): number {
  const k = KNOWN_BY_VALUE.get(raw[i + 2]);
  return k !== undefined && KNOWN_LINES[k].lower === raw[i] && KNOWN_LINES[k].name === raw[i + 1] ? k : -1;
}

/**
 * The app's fields for `writeHead`: which KNOWN_LINES they hold (bit k for KNOWN_LINES[k]), written
 * from their pre-encoded bytes (read only: in flash when preloaded), and the other lines.
 */
export interface EncodedFields {
  readonly known: number;
  /** The other `name: value\r\n` lines in order, in one native UTF-8 encode. */
  readonly others: Uint8Array;
}

/**
 * The app's fields for `writeHead`, but the framing fields (the server writes those): a number when
 * each is a line the framework sets itself (KNOWN_LINES) — bit k set for KNOWN_LINES[k], 0 for none —
 * so such a response allocates nothing for its head; else the known lines and the others encoded at
 * once (a per-character loop allocates on XS, and a non-Latin-1 value keeps its characters). The known
 * lines go first: the order of lines of different names has no meaning (RFC 9110 §5.3), and a known
 * line's name is one whose values form a list whose order has none either (Vary, Cache-Control) or
 * that is sent once (Content-Type).
 */
export function encodeFields(fields: Headers | undefined): number | EncodedFields {
  if (fields === undefined) return 0;
  const raw = fields.raw;
  let known = 0;
  let others = '';
  for (let i = 0; i < raw.length; i += 3) {
    const k = knownLine(raw, i);
    if (k >= 0 && (known & (1 << k)) === 0) known |= 1 << k;
    else if (!FRAMING_FIELDS.includes(raw[i])) others += `${raw[i + 1]}: ${raw[i + 2]}\r\n`;
  }
  return others === '' ? known : { known, others: runtime().utf8Encode(others) };
}

/** Copies `bytes` to `out` at `at` when they fit; returns the position after them either way. */
function put(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const length = bytes.length;
  if (at + length <= out.length) out.set(bytes, at);
  return at + length;
}

/** Decimal digits of a non-negative integer (exact division: no Math.floor, a native call on XS). */
function digitCount(value: number): number {
  let count = 1;
  while (value >= 10) {
    value = (value - (value % 10)) / 10;
    count++;
  }
  return count;
}

/**
 * Writes the head — and `body` after it, when given — into `out` from index 0; returns its length.
 * When that is more than `out.length`, `out` holds only part of it: write again into a buffer that
 * long. `fields` is `encodeFields(headers)`; `length` the Content-Length for `framing` 'length'.
 */
export function writeHead(out: Uint8Array, status: number, fields: number | EncodedFields, framing: Framing, length: number, connection: ConnectionField, body?: Uint8Array): number {
  const capacity = out.length;
  // Nearly every response is a 200: no search for its line.
  const known = status === 200 ? STATUS_OK : STATUS_CODES.indexOf(status);
  let at = put(out, 0, known >= 0 ? STATUS_LINES[known] : latin1Bytes(`HTTP/1.1 ${status} \r\n`));
  for (let k = 0, rest = typeof fields === 'number' ? fields : fields.known; rest !== 0; k++, rest >>>= 1) {
    if ((rest & 1) !== 0) at = put(out, at, KNOWN_LINES[k].bytes);
  }
  if (typeof fields !== 'number') at = put(out, at, fields.others);
  if (framing === 'length') {
    at = put(out, at, CONTENT_LENGTH);
    const digits = digitCount(length);
    if (at + digits + 2 <= capacity) {
      for (let i = at + digits - 1, rest = length; i >= at; i--) {
        const digit = rest % 10;
        out[i] = 48 + digit;
        rest = (rest - digit) / 10;
      }
      out[at + digits] = 13;
      out[at + digits + 1] = 10;
    }
    at += digits + 2;
  } else if (framing === 'chunked') {
    at = put(out, at, CHUNKED);
  }
  if (connection !== 'none') at = put(out, at, connection === 'close' ? CLOSE : connection === 'keep-alive' ? KEEP_ALIVE : UPGRADE);
  if (at + 2 <= capacity) {
    out[at] = 13;
    out[at + 1] = 10;
  }
  at += 2;
  return body === undefined ? at : put(out, at, body);
}

/** The head (and `body`) in a new buffer of its exact length. */
export function encodeHead(status: number, fields: Headers | undefined, framing: Framing, length: number, connection: ConnectionField, body?: Uint8Array): Uint8Array {
  const encoded = encodeFields(fields);
  const out = new Uint8Array(writeHead(EMPTY, status, encoded, framing, length, connection, body));
  writeHead(out, status, encoded, framing, length, connection, body);
  return out;
}

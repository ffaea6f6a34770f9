/**
 * A streaming `multipart/form-data` parser (RFC 7578, framing of RFC 2046 §5.1). Bytes go in as they
 * arrive, split anywhere; text fields are collected (bounded) into a MultiDict and each file part goes
 * out in pieces to a sink the caller supplies, so a file never sits whole in RAM.
 *
 * The delimiter (`CRLF--boundary`) is found with a Knuth-Morris-Pratt automaton carried across pieces:
 * bytes that may begin a delimiter are held back only as a count (they are a prefix of the delimiter, so
 * they need no copy), and every other byte of a file part reaches the sink as a view of the piece it
 * came in. Strict: no transport padding after a boundary, every header line ends in CRLF.
 *
 * Limits (device defaults in DEFAULT_MULTIPART_LIMITS): parts, part header bytes, text field bytes,
 * file bytes. An excess is HttpError 413 naming the limit; malformed input (no boundary, bad part
 * header, missing name, body ending before the closing delimiter) is 400. On any error the open file
 * sink is aborted, so a partial upload is never taken for a whole one.
 */
import { runtime } from '../runtime';
import { latin1Bytes } from './bytes';
import { HttpError } from './errors';
import { MultiDict } from './multidict';

export interface MultipartLimits {
  /** Parts (fields and files) in one body. Over it: 413. */
  maxParts: number;
  /** Bytes of one part's header section (its lines and their CRLFs). Over it: 413. */
  maxPartHeaderBytes: number;
  /** Bytes of one text field's value. Over it: 413. */
  maxFieldBytes: number;
  /** Bytes of one file part. Over it: 413, and its sink is aborted. */
  maxFileBytes: number;
}

/** ESP32 defaults: 8 parts × 512 B of text at most in RAM; a file up to 2 MiB (an OTA partition's size class). */
export const DEFAULT_MULTIPART_LIMITS: Readonly<MultipartLimits> = Object.freeze({
  maxParts: 8,
  maxPartHeaderBytes: 512,
  maxFieldBytes: 512,
  maxFileBytes: 2 * 1024 * 1024,
});

/** A file part's header: the form field name, the file name the browser sent (untrusted: a label only), its type. */
export interface FilePart {
  readonly name: string;
  readonly filename: string;
  /** The part's Content-Type, lower-cased; `application/octet-stream` when absent (RFC 7578 §4.4). */
  readonly contentType: string;
}

/** Where a file part's bytes go. Synchronous, as a flash or file write is. */
export interface FileSink {
  /** The next piece (a view valid only during the call: copy it to keep it). A throw aborts the parse. */
  write(chunk: Uint8Array): void;
  /** The part ended with its delimiter: every byte was written. */
  close(): void;
  /** The upload failed (limit, malformed body, client gone, a later error): discard what was written. */
  abort(): void;
}

export interface MultipartOptions {
  limits?: Partial<MultipartLimits>;
  /** Called at each file part's header; returns its sink. Without it a file part is 400. */
  file?: (part: FilePart) => FileSink;
}

const CR = 13;
const LF = 10;
const DASH = 45;

type State = 'preamble' | 'delimiter' | 'header' | 'field' | 'file' | 'done' | 'failed';

/**
 * The boundary parameter of a `multipart/form-data` Content-Type (RFC 2046 §5.1.1: 1–70 characters,
 * optionally quoted); HttpError 400 when the type is another or the boundary is missing or invalid.
 */
export function multipartBoundary(contentType: string | undefined): string {
  const value = contentType ?? '';
  const semicolon = value.indexOf(';');
  if ((semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase() !== 'multipart/form-data') throw new HttpError(400, 'Expected multipart/form-data');
  const boundary = parameter(value.slice(semicolon + 1), 'boundary');
  if (boundary === undefined || !/^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary)) throw new HttpError(400, 'Invalid multipart boundary');
  return boundary;
}

export class MultipartParser {
  readonly fields = new MultiDict();
  readonly #limits: MultipartLimits;
  readonly #onFile: ((part: FilePart) => FileSink) | undefined;
  /** `CRLF--boundary`. */
  readonly #delimiter: Uint8Array;
  /** KMP failure function of the delimiter. */
  readonly #fallback: Uint8Array;
  #state: State = 'preamble';
  /** Delimiter bytes matched so far (held back: they are `#delimiter[0..#matched)`). */
  #matched: number;
  /** Bytes after a delimiter (`--` or CRLF) seen so far, and the first of them. */
  #afterDelimiter = 0;
  #afterFirst = 0;
  #header: Uint8Array[] = [];
  #headerBytes = 0;
  #parts = 0;
  #partBytes = 0;
  #fieldName = '';
  #field: Uint8Array[] = [];
  #sink: FileSink | undefined;

  /** `boundary` as from multipartBoundary(). */
  constructor(boundary: string, options: MultipartOptions = {}) {
    this.#limits = { ...DEFAULT_MULTIPART_LIMITS, ...options.limits };
    for (const [name, value] of Object.entries(this.#limits)) {
      if (!Number.isInteger(value) || value <= 0) throw new RangeError(`xsdot: multipart limit ${name} must be a positive integer, got ${String(value)}`);
    }
    this.#onFile = options.file;
    this.#delimiter = latin1Bytes(`\r\n--${boundary}`);
    this.#fallback = failureFunction(this.#delimiter);
    // The body starts with `--boundary`: as if the CRLF before it had been seen.
    this.#matched = 2;
  }

  /** True once the closing delimiter was read (what follows, the epilogue, is ignored). */
  get done(): boolean {
    return this.#state === 'done';
  }

  /** Parses the next piece of the body. Throws HttpError (400, 413) or what a sink threw, after aborting the open sink. */
  write(bytes: Uint8Array): void {
    try {
      this.#write(bytes);
    } catch (error) {
      this.abort();
      throw error;
    }
  }

  /** The body ended: HttpError 400 (and the open sink aborted) unless the closing delimiter was read. */
  end(): MultiDict {
    if (this.#state !== 'done') {
      this.abort();
      throw new HttpError(400, 'Incomplete multipart body');
    }
    return this.fields;
  }

  /** Aborts the open file sink, if any; the parser takes no more input. */
  abort(): void {
    const sink = this.#sink;
    this.#sink = undefined;
    this.#state = 'failed';
    if (sink !== undefined) sink.abort();
  }

  #write(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      switch (this.#state) {
        case 'done':
          return;
        case 'failed':
          throw new HttpError(400, 'Multipart body already failed');
        case 'delimiter':
          at = this.#readAfterDelimiter(bytes, at);
          break;
        case 'header':
          at = this.#readHeader(bytes, at);
          break;
        default:
          at = this.#readData(bytes, at);
      }
    }
  }

  /**
   * Scans for the delimiter from `at`; passes the data before it on (dropped in the preamble). Returns
   * where scanning stopped: the end of `bytes`, or just past a delimiter.
   */
  #readData(bytes: Uint8Array, at: number): number {
    const delimiter = this.#delimiter;
    const carried = this.#matched;
    let matched = carried;
    let i = at;
    for (; i < bytes.length; i++) {
      const c = bytes[i];
      if (matched === 0) {
        // Nothing pending: jump to the next CR natively instead of stepping byte by byte.
        const next = bytes.indexOf(CR, i);
        if (next < 0) { i = bytes.length; break; }
        i = next;
        matched = 1;
        continue;
      }
      while (matched > 0 && c !== delimiter[matched]) matched = this.#fallback[matched - 1];
      if (c === delimiter[matched]) matched++;
      if (matched === delimiter.length) { i++; break; }
    }
    const full = matched === delimiter.length;
    // The stream seen is `delimiter[0..carried)` then `bytes[at..i)`; all but the last `matched` bytes are data.
    const data = carried + (i - at) - matched;
    if (data > 0) {
      const fromCarried = Math.min(carried, data);
      if (fromCarried > 0) this.#data(delimiter.subarray(0, fromCarried));
      if (data > fromCarried) this.#data(bytes.subarray(at, at + data - fromCarried));
    }
    if (full) {
      this.#endPart();
      this.#matched = 0;
      this.#state = 'delimiter';
      this.#afterDelimiter = 0;
    } else {
      this.#matched = matched;
    }
    return i;
  }

  /** After a delimiter: `--` ends the body, CRLF starts a part. */
  #readAfterDelimiter(bytes: Uint8Array, at: number): number {
    const c = bytes[at];
    if (this.#afterDelimiter === 0) {
      this.#afterFirst = c;
      this.#afterDelimiter = 1;
      return at + 1;
    }
    if (this.#afterFirst === DASH && c === DASH) {
      this.#state = 'done';
    } else if (this.#afterFirst === CR && c === LF) {
      if (++this.#parts > this.#limits.maxParts) throw new HttpError(413, `More than ${this.#limits.maxParts} parts (maxParts)`);
      this.#state = 'header';
      this.#header = [];
      this.#headerBytes = 0;
    } else {
      throw new HttpError(400, 'Malformed multipart delimiter');
    }
    return at + 1;
  }

  /** Collects a part's header section up to its empty line (bounded), then parses it. */
  #readHeader(bytes: Uint8Array, at: number): number {
    const limit = this.#limits.maxPartHeaderBytes;
    let i = at;
    let end = -1;
    for (; i < bytes.length; i++) {
      if (bytes[i] !== LF) continue;
      // The section ends at CRLF CRLF, or at once with CRLF for a part without header lines.
      const seen = this.#headerBytes + (i - at) + 1;
      if (seen === 2 || (seen >= 4 && this.#byteBack(bytes, at, i, 2) === LF)) {
        if (this.#byteBack(bytes, at, i, 1) !== CR) throw new HttpError(400, 'Malformed part header');
        end = i + 1;
        break;
      }
    }
    const stop = end < 0 ? bytes.length : end;
    this.#headerBytes += stop - at;
    if (this.#headerBytes > limit + 2) throw new HttpError(413, `Part header over ${limit} bytes (maxPartHeaderBytes)`);
    this.#header.push(bytes.subarray(at, stop));
    if (end < 0) {
      // The views point into pieces the caller may reuse: keep a copy while the header is incomplete.
      this.#header[this.#header.length - 1] = bytes.slice(at, stop);
      return stop;
    }
    const header = this.#header.length === 1 ? this.#header[0] : concat(this.#header, this.#headerBytes);
    this.#header = [];
    this.#startPart(header);
    return stop;
  }

  /** The byte `back` positions before `bytes[i]` in the header collected so far. */
  #byteBack(bytes: Uint8Array, at: number, i: number, back: number): number {
    const index = i - back;
    if (index >= at) return bytes[index];
    let rest = at - index;
    for (let k = this.#header.length - 1; k >= 0; k--) {
      const piece = this.#header[k];
      if (rest <= piece.length) return piece[piece.length - rest];
      rest -= piece.length;
    }
    return -1;
  }

  #startPart(header: Uint8Array): void {
    let name: string | undefined;
    let filename: string | undefined;
    let contentType = 'application/octet-stream';
    let disposition = false;
    // Lines end in CRLF (the last two are the empty line); a line without one is malformed.
    for (let start = 0; start < header.length - 2;) {
      const lf = header.indexOf(LF, start);
      if (lf < 0 || header[lf - 1] !== CR) throw new HttpError(400, 'Malformed part header');
      const line = runtime().utf8Decode(header.subarray(start, lf - 1));
      start = lf + 1;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new HttpError(400, 'Malformed part header');
      const field = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (field === 'content-disposition') {
        if (disposition) throw new HttpError(400, 'Repeated Content-Disposition');
        disposition = true;
        const semicolon = value.indexOf(';');
        if ((semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase() !== 'form-data') throw new HttpError(400, 'Part is not form-data');
        const params = value.slice(semicolon + 1);
        name = semicolon < 0 ? undefined : parameter(params, 'name');
        filename = semicolon < 0 ? undefined : parameter(params, 'filename');
      } else if (field === 'content-type') {
        contentType = value.toLowerCase();
      }
    }
    if (name === undefined) throw new HttpError(400, 'Part without a form-data name');
    this.#partBytes = 0;
    if (filename === undefined) {
      this.#fieldName = name;
      this.#field = [];
      this.#state = 'field';
      return;
    }
    if (this.#onFile === undefined) throw new HttpError(400, `Unexpected file in field "${name}"`);
    this.#state = 'file';
    this.#sink = this.#onFile({ name, filename, contentType });
  }

  #data(chunk: Uint8Array): void {
    if (this.#state === 'preamble') return;
    this.#partBytes += chunk.length;
    if (this.#state === 'field') {
      if (this.#partBytes > this.#limits.maxFieldBytes) throw new HttpError(413, `Form field over ${this.#limits.maxFieldBytes} bytes (maxFieldBytes)`);
      // A view of a piece the caller may reuse: copied.
      this.#field.push(chunk.slice());
      return;
    }
    if (this.#partBytes > this.#limits.maxFileBytes) throw new HttpError(413, `File over ${this.#limits.maxFileBytes} bytes (maxFileBytes)`);
    this.#sink?.write(chunk);
  }

  #endPart(): void {
    if (this.#state === 'field') {
      const value = this.#field.length === 1 ? this.#field[0] : concat(this.#field, this.#partBytes);
      this.fields.append(this.#fieldName, this.#partBytes === 0 ? '' : runtime().utf8Decode(value));
      this.#field = [];
    } else if (this.#state === 'file') {
      const sink = this.#sink;
      this.#sink = undefined;
      sink?.close();
    }
  }
}

/** Where a byte that fails to extend a match of `pattern[0..k]` resumes: the KMP failure function. */
function failureFunction(pattern: Uint8Array): Uint8Array {
  const table = new Uint8Array(pattern.length);
  for (let i = 1, k = 0; i < pattern.length; i++) {
    while (k > 0 && pattern[i] !== pattern[k]) k = table[k - 1];
    if (pattern[i] === pattern[k]) k++;
    table[i] = k;
  }
  return table;
}

function concat(pieces: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const piece of pieces) {
    out.set(piece, at);
    at += piece.length;
  }
  return out;
}

/**
 * The value of parameter `key` in `; a=b; key="v"` (case-insensitive key; a quoted string with its
 * backslash escapes, as browsers send `name` and `filename`), or undefined.
 */
export function parameter(params: string, key: string): string | undefined {
  let i = 0;
  while (i < params.length) {
    while (i < params.length && (params[i] === ';' || params[i] === ' ' || params[i] === '\t')) i++;
    const equals = params.indexOf('=', i);
    if (equals < 0) return undefined;
    const name = params.slice(i, equals).trim().toLowerCase();
    let value = '';
    i = equals + 1;
    if (params[i] === '"') {
      for (i++; i < params.length && params[i] !== '"'; i++) {
        if (params[i] === '\\' && i + 1 < params.length) i++;
        value += params[i];
      }
      if (i >= params.length) return undefined;
      i++;
    } else {
      const semicolon = params.indexOf(';', i);
      const stop = semicolon < 0 ? params.length : semicolon;
      value = params.slice(i, stop).trim();
      i = stop;
    }
    if (name === key) return value;
  }
  return undefined;
}

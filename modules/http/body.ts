/**
 * Streamed request bodies (`request.stream`): for a route registered with `maxStreamBody`, the server
 * does not read the body before the handler runs; the handler reads it in pieces as they arrive, and the
 * socket is read only while a read is waiting (backpressure: a slow handler slows the client down, the
 * body never piles up in RAM). Content-Length and chunked framing (RFC 9112 §7.1; extensions ignored,
 * trailer fields read and dropped, both bounded).
 *
 * Errors, as a rejection of `read()` (the handler's own error handling or the app's error handlers turn
 * them into the answer): HttpError 413 when the body exceeds the route's `maxStreamBody` (at once for a
 * Content-Length over it, before any `100 Continue`), 400 for malformed chunked framing, and
 * `BodyStreamError` when the connection ends mid-body (client gone, timeout, server closing).
 */
import { HttpError } from './errors';
import type { Limits } from './limits';
import type { RequestHead } from './parser';
import { Request } from './request';

/** The connection side of a streamed body (implemented by the server's connection). */
export interface BodySource {
  /** Up to `max` bytes received and not yet read, or undefined when none are waiting. */
  read(max: number): Uint8Array | undefined;
  /** Sends `100 Continue` if the client asked for it (at the first read only). */
  continue(): void;
}

/** The connection ended before the body did (the client went away, timed out, or the server closed). */
export class BodyStreamError extends Error {
  override readonly name = 'BodyStreamError';
}

/** Chunk-size lines (with extensions) and each trailer line: at most this many bytes. */
const MAX_CHUNK_LINE = 256;
/** Trailer section bytes, all lines together. */
const MAX_TRAILER = 1024;

const CR = 13;
const LF = 10;
const EMPTY = new Uint8Array(0);

type ChunkState = 'size' | 'data' | 'dataEnd' | 'trailer' | 'done';

export class RequestBody implements AsyncIterable<Uint8Array> {
  /** The route's limit (`maxStreamBody`), in body bytes. */
  readonly limit: number;
  /** The Content-Length, or undefined for a chunked body. */
  readonly length: number | undefined;
  readonly #source: BodySource;
  /** The most bytes one read takes from the socket (the server's maxBody): a piece's RAM bound. */
  readonly #piece: number;
  /** Raw bytes received (with the head, or read ahead in chunked framing) not yet decoded. */
  #pending: Uint8Array;
  #received = 0;
  #started = false;
  #error: Error | undefined;
  #waiting: { resolve: (piece: Uint8Array | undefined) => void; reject: (error: Error) => void } | undefined;
  // Chunked decoding.
  #state: ChunkState;
  #chunkLeft = 0;
  #line = '';
  #trailerBytes = 0;

  constructor(source: BodySource, length: number | undefined, limit: number, piece: number, buffered: Uint8Array) {
    this.#source = source;
    this.length = length;
    this.limit = limit;
    this.#piece = piece;
    this.#pending = buffered;
    this.#state = length === undefined ? 'size' : length === 0 ? 'done' : 'data';
    this.#chunkLeft = length ?? 0;
  }

  /** Body bytes delivered so far. */
  get received(): number {
    return this.#received;
  }

  /** True once the whole body was read (then the connection can serve its next request). */
  get complete(): boolean {
    return this.#state === 'done' && this.#error === undefined;
  }

  /**
   * The next piece of the body (at most the server's maxBody bytes; valid until the next read), or
   * undefined at its end. Rejects as described above; one read at a time.
   */
  read(): Promise<Uint8Array | undefined> {
    if (this.#waiting !== undefined) return Promise.reject(new Error('xsdot: request.stream.read() called while a read is pending'));
    try {
      const piece = this.#next();
      if (piece !== null) return Promise.resolve(piece);
    } catch (error) {
      return Promise.reject(this.#failed(error));
    }
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: async () => {
        const piece = await this.read();
        return piece === undefined ? { done: true, value: undefined } : { done: false, value: piece };
      },
    };
  }

  /** @internal Bytes arrived: serves a waiting read. */
  readable(): void {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    let piece: Uint8Array | undefined | null;
    try {
      piece = this.#next();
    } catch (error) {
      this.#waiting = undefined;
      waiting.reject(this.#failed(error));
      return;
    }
    if (piece === null) return;
    this.#waiting = undefined;
    waiting.resolve(piece);
  }

  /** @internal The connection ended: a waiting read and every later one reject with `error`, unless the body was complete. */
  fail(error: Error): void {
    if (this.#state === 'done' || this.#error !== undefined) return;
    this.#error = error;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }

  /** @internal Bytes received after the body's end (a pipelined request's), handed back to the parser. */
  takeLeftover(): Uint8Array {
    const rest = this.#pending;
    this.#pending = EMPTY;
    return rest;
  }

  /** The next decoded piece, undefined at the end, or null when more bytes must arrive first. */
  #next(): Uint8Array | undefined | null {
    if (this.#error !== undefined) throw this.#error;
    if (!this.#started) {
      this.#started = true;
      if (this.length !== undefined && this.length > this.limit) this.#refuse();
      this.#source.continue();
    }
    for (;;) {
      if (this.#state === 'done') return undefined;
      if (this.#pending.length === 0) {
        // Content-Length: never read past the body (the bytes after it are the next request's).
        const want = this.#state === 'data' && this.length !== undefined ? Math.min(this.#chunkLeft, this.#piece) : this.#piece;
        const bytes = this.#source.read(want);
        if (bytes === undefined || bytes.length === 0) return null;
        this.#pending = bytes;
      }
      const piece = this.#decode();
      if (piece !== undefined) return piece;
    }
  }

  /** Decodes from `#pending`: a data piece, or undefined after consuming framing bytes. */
  #decode(): Uint8Array | undefined {
    const bytes = this.#pending;
    if (this.#state === 'data') {
      const take = Math.min(bytes.length, this.#chunkLeft);
      const piece = bytes.subarray(0, take);
      this.#pending = take === bytes.length ? EMPTY : bytes.subarray(take);
      this.#chunkLeft -= take;
      this.#received += take;
      if (this.#received > this.limit) this.#refuse();
      if (this.#chunkLeft === 0) this.#state = this.length === undefined ? 'dataEnd' : 'done';
      return piece;
    }
    // Framing lines: size (with extensions), the CRLF after data, trailer fields, the empty line.
    let i = 0;
    for (; i < bytes.length; i++) {
      const c = bytes[i];
      if (c !== LF) {
        this.#line += String.fromCharCode(c);
        if (this.#line.length > MAX_CHUNK_LINE) throw new HttpError(400, 'Chunk line too long', { close: true });
        continue;
      }
      const line = this.#line;
      this.#line = '';
      if (line.charCodeAt(line.length - 1) !== CR) throw new HttpError(400, 'Bare LF in chunked body', { close: true });
      this.#endLine(line.slice(0, -1));
      i++;
      break;
    }
    this.#pending = i === bytes.length ? EMPTY : bytes.subarray(i);
    return undefined;
  }

  #endLine(line: string): void {
    if (this.#state === 'dataEnd') {
      if (line !== '') throw new HttpError(400, 'Chunk data longer than its size', { close: true });
      this.#state = 'size';
    } else if (this.#state === 'size') {
      const semicolon = line.indexOf(';');
      const digits = (semicolon < 0 ? line : line.slice(0, semicolon)).trim();
      if (!/^[0-9A-Fa-f]{1,8}$/.test(digits)) throw new HttpError(400, 'Invalid chunk size', { close: true });
      const size = parseInt(digits, 16);
      if (this.#received + size > this.limit) this.#refuse();
      this.#chunkLeft = size;
      this.#state = size === 0 ? 'trailer' : 'data';
    } else {
      // Trailer fields are read and dropped (none is used); the empty line ends the body.
      this.#trailerBytes += line.length + 2;
      if (this.#trailerBytes > MAX_TRAILER) throw new HttpError(431, 'Trailer section too large', { close: true });
      if (line === '') this.#state = 'done';
    }
  }

  /** A decoding error is final: every later read rejects with it too. */
  #failed(error: unknown): Error {
    this.#error ??= error instanceof Error ? error : new Error(String(error));
    return this.#error;
  }

  #refuse(): never {
    throw new HttpError(413, `Request body over ${this.limit} bytes (maxStreamBody)`, { close: true });
  }
}

/** A request whose route streams its body: `body` is empty, `stream` reads it. */
export class StreamedRequest extends Request {
  readonly #stream: RequestBody;

  constructor(head: RequestHead, clientAddress: string | undefined, limits: Pick<Limits, 'maxFormFields'>, stream: RequestBody) {
    super(head, EMPTY, clientAddress, limits);
    this.#stream = stream;
  }

  override get stream(): RequestBody {
    return this.#stream;
  }
}

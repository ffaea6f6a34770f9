/**
 * Static files (microdot's `send_file`): from any `StaticSource` — firmware resources in flash on
 * Moddable (hosts/moddable/static.ts), a directory on Node (hosts/node/static.ts), or bytes in memory
 * (`memoryFiles`, below). Streamed in pieces as the socket drains, with Content-Length.
 *
 * - Names: the route's `<path:…>` rest, already percent-decoded with dot segments removed (router.ts);
 *   a segment that is empty, `.`, `..`, or holds `\`, `:` or a control character, or a name over
 *   MAX_NAME_BYTES or MAX_SEGMENTS, is 404 before any source sees it. Sources add their own guard
 *   (a name table on Moddable, a root check with symbolic links resolved on Node).
 * - Caching (RFC 9110 §8.8, §13; RFC 9111): a strong `ETag` from the source, `Last-Modified` where it
 *   knows one, `If-None-Match` (weak comparison, `*`) → 304, else `If-Modified-Since` → 304;
 *   `Cache-Control` as configured (default `no-cache`: reuse after revalidation).
 * - `HEAD`: the same head, no body. Range requests are not supported: the whole file, 200.
 * - Precompressed variants: `name.gz` is sent for `name` with `Content-Encoding: gzip` when the request's
 *   Accept-Encoding takes gzip (q-values honoured: `gzip;q=0` refuses it, `*` covers it); responses for a
 *   name with a variant carry `Vary: Accept-Encoding`.
 */
import { runtime } from '../runtime';
import { HttpError } from './errors';
import type { Request } from './request';
import { Response, type BodyChunk } from './response';

/** One open file of a source. */
export interface StaticFile {
  /** Bytes. */
  readonly size: number;
  /** A strong entity tag, quoted (`"…"`), that changes whenever the bytes do. */
  readonly etag: string;
  /** Last modification, ms since the Unix epoch, when the source knows it. */
  readonly modified: number | undefined;
  /** These are the bytes of the `.gz` variant (sent with Content-Encoding: gzip). */
  readonly gzip: boolean;
  /** A `.gz` variant of this name exists (so its responses vary by Accept-Encoding). */
  readonly hasGzip: boolean;
  /** Bytes `[offset, offset + length)`: a view where the source allows it (flash), else a new buffer. Throws on a short read. */
  read(offset: number, length: number): Uint8Array | Promise<Uint8Array>;
  /** Releases the file (a descriptor on Node); called once, after the last read or when the response is dropped. */
  close(): void;
}

export interface StaticSource {
  /**
   * The file called `name` (a checked relative path: `css/site.css`), its `.gz` variant instead when
   * `gzip` is true and one exists; undefined when there is no such file.
   */
  open(name: string, gzip: boolean): StaticFile | undefined | Promise<StaticFile | undefined>;
}

export interface StaticOptions {
  /** The Cache-Control of every 200 and 304 (default `no-cache`: caches revalidate with the ETag each time). */
  cacheControl?: string;
  /** Bytes per piece read from the source and written to the socket (default 1024). */
  pieceSize?: number;
}

/** The longest name (bytes of UTF-16 code units) and the most segments a name may have. */
export const MAX_NAME_BYTES = 128;
export const MAX_SEGMENTS = 8;

/** Extension → media type: a small table, searched (a client's extension never becomes a property name on XS). */
const CONTENT_TYPES: readonly string[] = Object.freeze([
  'html', 'text/html; charset=utf-8', 'htm', 'text/html; charset=utf-8', 'css', 'text/css; charset=utf-8',
  'js', 'text/javascript; charset=utf-8', 'mjs', 'text/javascript; charset=utf-8', 'json', 'application/json',
  'txt', 'text/plain; charset=utf-8', 'svg', 'image/svg+xml', 'png', 'image/png', 'jpg', 'image/jpeg',
  'jpeg', 'image/jpeg', 'gif', 'image/gif', 'webp', 'image/webp', 'ico', 'image/x-icon', 'woff2', 'font/woff2',
  'wasm', 'application/wasm', 'map', 'application/json', 'xml', 'application/xml', 'pdf', 'application/pdf',
  'gz', 'application/gzip',
]);

/** The media type for `name` by its extension (case-insensitive); `application/octet-stream` otherwise. */
export function contentType(name: string): string {
  const dot = name.lastIndexOf('.');
  if (dot >= 0 && dot > name.lastIndexOf('/')) {
    const extension = name.slice(dot + 1).toLowerCase();
    for (let i = 0; i < CONTENT_TYPES.length; i += 2) if (CONTENT_TYPES[i] === extension) return CONTENT_TYPES[i + 1];
  }
  return 'application/octet-stream';
}

/** `name` when it is a safe relative path (see the module doc), else undefined. */
export function safeName(name: string): string | undefined {
  if (name.length === 0 || name.length > MAX_NAME_BYTES) return undefined;
  let segments = 1;
  let start = 0;
  for (let i = 0; i <= name.length; i++) {
    const c = i < name.length ? name.charCodeAt(i) : 47;
    if (c < 32 || c === 127 || c === 92 /* \ */ || c === 58 /* : */) return undefined;
    if (c !== 47) continue;
    const length = i - start;
    // Empty, `.` and `..` segments (a leading `/` is an empty one).
    if (length === 0 || (name.charCodeAt(start) === 46 && (length === 1 || (length === 2 && name.charCodeAt(start + 1) === 46)))) return undefined;
    if (i < name.length && ++segments > MAX_SEGMENTS) return undefined;
    start = i + 1;
  }
  return name;
}

/**
 * Answers `request` with the file `name` of `source` (microdot's `send_file`): 200 with the bytes
 * streamed, 304 when the client's copy is current, 404 when there is no such file (or the name is not
 * safe), 405 for a method other than GET and HEAD.
 */
export async function sendFile(request: Request, source: StaticSource, name: string, options: StaticOptions = {}): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(405, undefined, { headers: { Allow: 'GET, HEAD' } });
  const safe = safeName(name);
  if (safe === undefined) throw new HttpError(404);
  const file = await source.open(safe, acceptsGzip(request.headers.getLower('accept-encoding')));
  if (file === undefined) throw new HttpError(404);
  const headers: [string, string][] = [['ETag', file.etag], ['Cache-Control', options.cacheControl ?? 'no-cache']];
  if (file.modified !== undefined) headers.push(['Last-Modified', httpDate(file.modified)]);
  if (file.hasGzip) headers.push(['Vary', 'Accept-Encoding']);
  if (notModified(request, file)) {
    file.close();
    return new Response(undefined, 304, headers);
  }
  headers.push(['Content-Type', contentType(safe)]);
  if (file.gzip) headers.push(['Content-Encoding', 'gzip']);
  const response = new Response(undefined, 200, headers);
  response.body = new FileBody(file, options.pieceSize ?? 1024);
  return response;
}

/**
 * A handler serving the files of `source` under a route ending in `<path:name>`:
 * `app.get('/static/<path:name>', staticFiles(source))` (HEAD is served by GET routes).
 */
export function staticFiles(source: StaticSource, options: StaticOptions = {}): (request: Request) => Promise<Response> {
  return (request) => {
    const name = request.params.name;
    return sendFile(request, source, typeof name === 'string' ? name : '', options);
  };
}

/** A file's bytes as a stream of known length (the server sends it with Content-Length). */
class FileBody implements AsyncIterable<BodyChunk> {
  readonly contentLength: number;
  readonly #file: StaticFile;
  readonly #piece: number;
  #at = 0;
  #closed = false;

  constructor(file: StaticFile, piece: number) {
    this.#file = file;
    this.contentLength = file.size;
    this.#piece = piece;
  }

  [Symbol.asyncIterator](): AsyncIterator<BodyChunk> {
    return {
      next: async () => {
        if (this.#at >= this.contentLength) {
          this.#close();
          return { done: true, value: undefined };
        }
        const length = Math.min(this.#piece, this.contentLength - this.#at);
        let bytes: Uint8Array;
        try {
          bytes = await this.#file.read(this.#at, length);
          if (bytes.length !== length) throw new Error(`xsdot: short read of a static file (${bytes.length} of ${length} bytes)`);
        } catch (error) {
          this.#close();
          throw error;
        }
        this.#at += length;
        return { done: false, value: bytes };
      },
      return: async () => {
        this.#close();
        return { done: true, value: undefined };
      },
    };
  }

  /** Closes the file when the response is dropped unsent (HEAD, a closed connection): the server calls this. */
  return(): void {
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}

/** Whether an Accept-Encoding value takes gzip (RFC 9110 §12.5.3): `gzip` or `*` with q > 0; `gzip;q=0` refuses. */
export function acceptsGzip(value: string | undefined): boolean {
  if (value === undefined) return false;
  let star = false;
  for (const item of value.split(',')) {
    const semicolon = item.indexOf(';');
    const coding = (semicolon < 0 ? item : item.slice(0, semicolon)).trim().toLowerCase();
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const accepted = semicolon < 0 || qValue(item.slice(semicolon + 1)) > 0;
    if (coding === '*') star = accepted;
    else return accepted;
  }
  return star;
}

/** The q parameter of `;q=0.5` (1 when absent, 0 when malformed). */
function qValue(params: string): number {
  for (const param of params.split(';')) {
    const equals = param.indexOf('=');
    if (equals < 0 || param.slice(0, equals).trim().toLowerCase() !== 'q') continue;
    const text = param.slice(equals + 1).trim();
    if (!/^(0(\.[0-9]{0,3})?|1(\.0{0,3})?)$/.test(text)) return 0;
    return Number(text);
  }
  return 1;
}

/** RFC 9110 §13.1.2 then §13.1.3: If-None-Match when sent, else If-Modified-Since. */
function notModified(request: Request, file: StaticFile): boolean {
  const match = request.headers.getLower('if-none-match');
  if (match !== undefined) {
    if (match.trim() === '*') return true;
    const own = opaque(file.etag);
    for (const tag of match.split(',')) if (opaque(tag.trim()) === own) return true;
    return false;
  }
  const since = request.headers.getLower('if-modified-since');
  if (since === undefined || file.modified === undefined) return false;
  const date = parseHttpDate(since);
  return date !== undefined && Math.floor(file.modified / 1000) <= date / 1000;
}

/** The tag without a weak prefix (weak comparison). */
function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

const DAYS: readonly string[] = Object.freeze(['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']);
const MONTHS: readonly string[] = Object.freeze(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']);

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function httpDate(ms: number): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} GMT`;
}

/** An IMF-fixdate's ms since the epoch; undefined for anything else (the obsolete forms are ignored, as allowed). */
export function parseHttpDate(text: string): number | undefined {
  const match = /^[A-Z][a-z]{2}, ([0-9]{2}) ([A-Z][a-z]{2}) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT$/.exec(text.trim());
  if (match === null) return undefined;
  const month = MONTHS.indexOf(match[2]);
  if (month < 0) return undefined;
  return Date.UTC(Number(match[3]), month, Number(match[1]), Number(match[4]), Number(match[5]), Number(match[6]));
}

/**
 * A source of files held in memory (tests, a few small embedded assets): `{'app.js': bytes or text}`,
 * `'app.js.gz'` its precompressed variant. ETags are the first 16 hex digits of each file's SHA-256,
 * computed here once; no Last-Modified. The names are a fixed table: nothing else can be opened.
 */
export function memoryFiles(files: Readonly<Record<string, Uint8Array | string>>): StaticSource {
  const table = new Map<string, { bytes: Uint8Array; etag: string }>();
  for (const [name, content] of Object.entries(files)) {
    const bytes = typeof content === 'string' ? runtime().utf8Encode(content) : content;
    table.set(name, { bytes, etag: contentETag(bytes) });
  }
  return {
    open(name, gzip) {
      const plain = table.get(name);
      if (plain === undefined) return undefined;
      const variant = table.get(`${name}.gz`);
      const chosen = gzip && variant !== undefined ? variant : plain;
      return {
        size: chosen.bytes.length,
        etag: chosen.etag,
        modified: undefined,
        gzip: chosen === variant,
        hasGzip: variant !== undefined,
        read: (offset, length) => chosen.bytes.subarray(offset, offset + length),
        close() { /* nothing held */ },
      };
    },
  };
}

/** A strong ETag from content: `"` + the first 16 hex digits of its SHA-256 + `"` (what the asset build step writes too). */
export function contentETag(bytes: Uint8Array): string {
  const hash = runtime().crypto.createSha256();
  hash.update(bytes);
  const digest = hash.digest();
  let hex = '';
  for (let i = 0; i < 8; i++) hex += (digest[i] < 16 ? '0' : '') + digest[i].toString(16);
  return `"${hex}"`;
}

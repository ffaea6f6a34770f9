/**
 * Server-Sent Events (WHATWG HTML §9.2, `text/event-stream`), microdot's `with_sse` shape:
 *
 *     app.get('/events', withSSE(async (request, sse) => {
 *       sse.send({ uptime: 1 }, { event: 'status' });   // data: {"uptime":1}
 *       await sse.closed;                                 // until the client goes
 *     }));
 *
 * The route is ordinary (hooks and sessions run first); its 200 response's head is written, then the
 * connection is the stream's (modules/http/takeover.ts): a body running until the connection closes,
 * counted against the server's connection cap. Events wait in a bounded queue: at most
 * `maxQueuedEvents` (device default 8) beyond the one being written; when a slow client lets it fill,
 * the oldest queued event is dropped and counted (`sse.dropped`) — a live reading is worth more than
 * an old one. A client that does not take a whole event within `sendTimeout` is closed (found at the next
 * heartbeat). A comment line goes
 * out every `heartbeat` ms while nothing else does, so proxies keep the connection and a dead client
 * is found.
 */
import { runtime } from '../runtime';
import { resolveOptionLimits } from '../http/limits';
import type { Request } from '../http/request';
import { TakeoverResponse, type Channel, type Protocol } from '../http/takeover';
import { runHandler } from './handler';

export interface EventOptions {
  /** The event type (`event:`); the client's `message` event when absent. No CR or LF. */
  event?: string;
  /** The event id (`id:`), which the browser sends back as `Last-Event-ID` when it reconnects. No CR, LF or NUL. */
  id?: string;
  /** The client's reconnection delay in ms (`retry:`), a non-negative integer. */
  retry?: number;
}

export interface SSEOptions {
  /** Events waiting beyond the one being written. Past it the oldest is dropped (`dropped`). Default 8. */
  maxQueuedEvents?: number;
  /** UTF-8 bytes of one formatted event. Past it `send()` throws RangeError. Default 1024. */
  maxEventBytes?: number;
  /** Milliseconds between heartbeat comments (`:` lines) while nothing is sent. Default 15000. */
  heartbeat?: number;
  /** Milliseconds a client may take to take one event; a slower one is closed at the next heartbeat. Default 10000. */
  sendTimeout?: number;
}

type Limits = Required<SSEOptions>;

/** Device defaults. */
export const SSE_DEFAULTS: Readonly<Limits> = Object.freeze({
  maxQueuedEvents: 8,
  maxEventBytes: 1024,
  heartbeat: 15_000,
  sendTimeout: 10_000,
});

/** An event as an iterator source yields it: a string (data only) or its data and fields. */
export type EventInit = string | ({ data: unknown } & EventOptions);

function checkField(name: string, value: string, nul: boolean): void {
  if (/[\r\n]/.test(value) || (nul && value.indexOf('\0') >= 0)) throw new TypeError(`xsdot: SSE ${name} must not contain CR, LF${nul ? ' or NUL' : ''}`);
}

/**
 * One event in the `text/event-stream` format: `event:`, `id:`, `retry:`, then one `data:` line per line
 * of the data (split at CRLF, CR or LF, so no line break of the data can end the event early), then
 * the blank line that dispatches it. `data`: a string as is, bytes decoded as UTF-8, anything else as
 * JSON. Throws TypeError for a field with a line break (or NUL in an id), RangeError for a bad retry.
 */
export function formatEvent(data: unknown, options: EventOptions = {}): string {
  let out = '';
  if (options.event !== undefined) {
    checkField('event', options.event, false);
    out += `event: ${options.event}\n`;
  }
  if (options.id !== undefined) {
    checkField('id', options.id, true);
    out += `id: ${options.id}\n`;
  }
  if (options.retry !== undefined) {
    if (!Number.isInteger(options.retry) || options.retry < 0) throw new RangeError(`xsdot: SSE retry must be a non-negative integer, got ${String(options.retry)}`);
    out += `retry: ${options.retry}\n`;
  }
  const text = typeof data === 'string' ? data : data instanceof Uint8Array ? runtime().utf8Decode(data) : JSON.stringify(data) ?? 'null';
  for (const line of text.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return out + '\n';
}

/** A comment line and the blank line: dispatches nothing, keeps the connection busy. */
const HEARTBEAT = ':\n\n';

type Source = ((stream: EventStream) => unknown) | AsyncIterable<EventInit> | Iterable<EventInit>;

/**
 * The response of an event stream: `source` is a function given the stream (it may send at will and
 * return when done) or an (async) iterable of events, pulled one at a time as the client takes them.
 * The stream ends when the function's promise settles or the iterable ends (after the queue is
 * written), or when the client goes. `lastEventId`: the `Last-Event-ID` the client sent.
 */
export function eventStream(source: Source, options: SSEOptions = {}, lastEventId?: string): TakeoverResponse {
  const limits = resolveOptionLimits(SSE_DEFAULTS, options, 'SSE option');
  const stream = new EventStream(limits, source, lastEventId);
  return new TakeoverResponse(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }, stream, false);
}

/** microdot's `with_sse`: a route handler that answers with an event stream run by `handler(request, sse)`. */
export function withSSE(handler: (request: Request, sse: EventStream) => unknown, options?: SSEOptions): (request: Request) => TakeoverResponse {
  return (request) => eventStream((sse) => handler(request, sse), options, request.headers.get('last-event-id'));
}

/** One client's event stream. */
export class EventStream implements Protocol {
  // Helpers are TypeScript-private, not #private: XS gives every instance a slot per #method.
  /** The `Last-Event-ID` the client sent when it reconnected, else undefined. */
  readonly lastEventId: string | undefined;
  /** Events dropped because the client was slower than they came (oldest first). */
  dropped = 0;
  readonly #limits: Limits;
  #source: Source | undefined;
  #channel: Channel | undefined;
  /** Formatted events waiting for the socket to take the one before; made on first need. */
  #queue: Uint8Array[] | undefined;
  #closed = false;
  /** The source is done: close once the queue is written. */
  #ending = false;
  /** When the event (or heartbeat) the socket is still writing was handed to it (monotonic ms). */
  #flowing = 0;
  #resolveClosed: (() => void) | undefined;
  #closedPromise: Promise<void> | undefined;
  /** An iterable source waits here for the queue to empty. */
  #resolveRoom: (() => void) | undefined;

  constructor(limits: Limits, source: Source, lastEventId: string | undefined) {
    this.#limits = limits;
    this.#source = source;
    this.lastEventId = lastEventId;
  }

  /** True once the client went or the stream ended: `send()` does nothing then. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Resolves when the stream has closed. */
  get closed(): Promise<void> {
    return (this.#closedPromise ??= this.#closed ? Promise.resolve() : new Promise((resolve) => { this.#resolveClosed = resolve; }));
  }

  /**
   * Sends one event (see formatEvent). False when the stream has closed (nothing sent). When the
   * client is slow and `maxQueuedEvents` wait already, the oldest waiting event is dropped. Throws
   * RangeError for an event over `maxEventBytes`, TypeError for an invalid field.
   */
  send(data: unknown, options?: EventOptions): boolean {
    if (this.#closed || this.#ending) return false;
    const bytes = runtime().utf8Encode(formatEvent(data, options));
    if (bytes.length > this.#limits.maxEventBytes) throw new RangeError(`xsdot: SSE event of ${bytes.length} bytes over maxEventBytes (${this.#limits.maxEventBytes})`);
    this.enqueue(bytes);
    return true;
  }

  /** Ends the stream once what is queued is written. */
  close(): void {
    this.#ending = true;
    if (this.#channel !== undefined && this.#channel.queued === 0 && (this.#queue?.length ?? 0) === 0) this.#channel.close();
  }

  private enqueue(bytes: Uint8Array): void {
    const channel = this.#channel as Channel;
    if (channel.queued === 0) {
      channel.send(bytes);
      if (channel.queued > 0) this.#flowing = runtime().monotonic();
      return;
    }
    const queue = (this.#queue ??= []);
    if (queue.length >= this.#limits.maxQueuedEvents) {
      queue.shift();
      this.dropped++;
    }
    queue.push(bytes);
  }

  // Protocol: the connection after the head.

  start(channel: Channel): void {
    this.#channel = channel;
    channel.armTimeout(this.#limits.heartbeat);
    const source = this.#source as Source;
    this.#source = undefined;
    if (typeof source === 'function') {
      runHandler(source, this, () => this.close(), (error) => this.fail(error));
    } else {
      void this.pump(source);
    }
  }

  onData(): void {
    // A client sends nothing on an event stream; whatever it sends is read and dropped.
  }

  onDrained(): void {
    const next = this.#queue?.shift();
    const channel = this.#channel as Channel;
    if (next !== undefined) {
      channel.send(next);
      if (channel.queued > 0) this.#flowing = runtime().monotonic();
      return;
    }
    if (this.#ending) channel.close();
    const room = this.#resolveRoom;
    this.#resolveRoom = undefined;
    room?.();
  }

  onTimeout(): void {
    const channel = this.#channel as Channel;
    if (channel.queued > 0) {
      if (runtime().monotonic() - this.#flowing >= this.#limits.sendTimeout) {
        channel.close();
        return;
      }
    } else {
      channel.send(runtime().utf8Encode(HEARTBEAT));
      if (channel.queued > 0) this.#flowing = runtime().monotonic();
    }
    channel.armTimeout(this.#limits.heartbeat);
  }

  onClose(): void {
    this.#closed = true;
    this.#queue = undefined;
    this.#resolveRoom?.();
    this.#resolveRoom = undefined;
    this.#resolveClosed?.();
    this.#resolveClosed = undefined;
  }

  /** Pulls events from an iterable one at a time, each once the socket has taken the one before. */
  private async pump(source: AsyncIterable<EventInit> | Iterable<EventInit>): Promise<void> {
    try {
      for await (const event of source as AsyncIterable<EventInit>) {
        if (this.#closed) break;
        if (typeof event === 'string') this.send(event);
        else this.send(event.data, event);
        if ((this.#channel as Channel).queued > 0) await new Promise<void>((resolve) => { this.#resolveRoom = resolve; });
        if (this.#closed) break;
      }
      this.close();
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    runtime().log('error', `xsdot: event stream failed: ${error instanceof Error ? error.message : String(error)}`);
    this.close();
  }
}

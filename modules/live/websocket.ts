/**
 * WebSocket (RFC 6455) server side, microdot's shape:
 *
 *     app.get('/echo', withWebSocket(async (request, ws) => {
 *       for await (const message of ws) ws.send(message);
 *     }));
 *
 * The upgrade is an ordinary route: before-request hooks, sessions and authentication run first, and a
 * handler that refuses (abort(401), a redirect) answers plain HTTP. `acceptWebSocket(request, …)` checks
 * the opening handshake (§4.2.1) and the `Origin` (§10.2: a page of another origin must not open a
 * socket with the user's cookies), and returns a `101 Switching Protocols` response (the after hooks see
 * it); once its head is written the connection is the WebSocket's (modules/http/takeover.ts). Frames:
 * frames.ts. Everything is bounded (`WebSocketOptions`); the handler runs once the 101 is queued, and
 * when it returns (or throws: 1011) the socket closes.
 */
import { runtime } from '../runtime';
import { base64urlEncode } from '../crypto/base64url';
import { pureSha1 } from '../crypto/sha1';
import { normalizeAuthority } from '../http/authority';
import { HttpError } from '../http/errors';
import { resolveOptionLimits } from '../http/limits';
import type { Request } from '../http/request';
import { TakeoverResponse, type Channel, type Protocol } from '../http/takeover';
import {
  BINARY, CLOSE, CLOSE_ABNORMAL, CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR, CLOSE_NO_STATUS, CLOSE_NORMAL, CLOSE_POLICY,
  closePayload, encodeFrame, FrameParser, isValidCloseCode, PING, PONG, TEXT, WebSocketError, type FrameSink,
} from './frames';
import { runHandler } from './handler';

export interface WebSocketOptions {
  /** Payload bytes of one frame from the client. Over it: close 1009. Default 4096. */
  maxFrameBytes?: number;
  /** Payload bytes of one message from the client (its fragments together). Over it: close 1009. Default 4096. */
  maxMessageBytes?: number;
  /** Messages received and not yet taken by `receive()`. Over it: close 1008. Default 4. */
  maxQueuedMessages?: number;
  /** Bytes queued for sending (`bufferedAmount`). A `send()` past it throws RangeError. Default 4096. */
  maxBufferedBytes?: number;
  /**
   * Milliseconds without a frame from the client before the server pings it; as long again without any
   * frame and the socket closes with 1001. The same bound closes a client that reads nothing we send
   * (no close frame: it would not read it). Default 30000.
   */
  idleTimeout?: number;
  /**
   * Origins (`scheme://host[:port]`, as browsers send them) allowed besides the request's own: the
   * scheme given by `scheme` with the authority the request was sent to, which the server's host
   * allow-list has already accepted. A request without `Origin` (not a browser) is accepted.
   */
  origins?: readonly string[];
  /** The scheme of the pages' own origin: `https` behind a TLS proxy. Default `http`. */
  scheme?: 'http' | 'https';
}

type Limits = Required<Omit<WebSocketOptions, 'origins' | 'scheme'>>;

/** Device defaults. */
export const WEBSOCKET_DEFAULTS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 4096,
  maxMessageBytes: 4096,
  maxQueuedMessages: 4,
  maxBufferedBytes: 4096,
  idleTimeout: 30_000,
});

/** After we send a close frame, how long we wait for the client's before closing the TCP connection. */
const CLOSE_WAIT = 2_000;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export type Message = string | Uint8Array;
export type WebSocketHandler = (ws: WebSocket) => unknown;

/** `readyState` values, as the browser's WebSocket. */
export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSING = 2;
export const CLOSED = 3;

/** Standard (padded) base64. */
function base64(bytes: Uint8Array): string {
  const encoded = base64urlEncode(bytes).replace(/-/g, '+').replace(/_/g, '/');
  return encoded + '='.repeat((4 - (encoded.length % 4)) % 4);
}

/** `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2 step 5.4): SHA-1 through the host's native digest when it has one. */
export function acceptKey(key: string): string {
  const input = runtime().utf8Encode(key + GUID);
  const native = runtime().crypto.createSha1?.();
  if (native === undefined) return base64(pureSha1(input));
  native.update(input);
  return base64(native.digest());
}

/** True when the comma-separated field `value` lists `token` (case-insensitive). */
function listsToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  for (const item of value.split(',')) if (item.trim().toLowerCase() === token) return true;
  return false;
}

/**
 * Checks `request`'s opening handshake and Origin, and returns the 101 response whose connection
 * `handler` then gets. Throws HttpError: 426 with `Upgrade: websocket` for a request that is not a
 * WebSocket upgrade (or HTTP/1.0), 400 for a missing or malformed `Sec-WebSocket-Key`, 426 with
 * `Sec-WebSocket-Version: 13` for another version, 403 for an Origin that is neither the request's
 * own nor in `options.origins`. Throws RangeError for an option that is not a positive integer.
 */
export function acceptWebSocket(request: Request, handler: WebSocketHandler, options: WebSocketOptions = {}): TakeoverResponse {
  const limits = resolveOptionLimits(WEBSOCKET_DEFAULTS, options, 'WebSocket option');
  const headers = request.headers;
  if (request.method !== 'GET' || request.version !== '1.1' || !listsToken(headers.get('upgrade'), 'websocket') || !listsToken(headers.get('connection'), 'upgrade')) {
    throw new HttpError(426, 'WebSocket upgrade expected.', { headers: { Upgrade: 'websocket' } });
  }
  const key = headers.get('sec-websocket-key');
  if (key === undefined || headers.getAll('sec-websocket-key').length !== 1 || !/^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key)) {
    throw new HttpError(400, 'Invalid Sec-WebSocket-Key.');
  }
  if (headers.get('sec-websocket-version') !== '13') {
    throw new HttpError(426, 'Unsupported WebSocket version.', { headers: { 'Sec-WebSocket-Version': '13' } });
  }
  const origin = headers.get('origin');
  if (origin !== undefined && !(options.origins ?? []).includes(origin) && !isOwnOrigin(origin, request.authority, options.scheme ?? 'http')) {
    throw new HttpError(403, 'Cross-origin WebSocket refused.');
  }
  const ws = new WebSocket(limits, handler);
  return new TakeoverResponse(101, { Upgrade: 'websocket', 'Sec-WebSocket-Accept': acceptKey(key) }, ws, true);
}

/** True when `origin` is `scheme://` + the request's authority (host and port compared as normalized, the default port implied). */
function isOwnOrigin(origin: string, authority: string | undefined, scheme: 'http' | 'https'): boolean {
  const prefix = `${scheme}://`;
  if (authority === undefined || origin.slice(0, prefix.length).toLowerCase() !== prefix) return false;
  const port = scheme === 'http' ? 80 : 443;
  const own = normalizeAuthority(authority, port);
  return own !== undefined && normalizeAuthority(origin.slice(prefix.length), port) === own;
}

/** microdot's `with_websocket`: a route handler that accepts the upgrade and runs `handler(request, ws)`. */
export function withWebSocket(handler: (request: Request, ws: WebSocket) => unknown, options?: WebSocketOptions): (request: Request) => TakeoverResponse {
  return (request) => acceptWebSocket(request, (ws) => handler(request, ws), options);
}

/**
 * One accepted WebSocket: `receive()` / `for await`, `send()`, `close()`. A ping is answered with a pong
 * at once; the client's close is echoed, then the connection closes.
 */
export class WebSocket implements Protocol, FrameSink {
  // Helpers are TypeScript-private, not #private: XS gives every instance a slot per #method.
  readonly #limits: Limits;
  /** Until the socket opens: then the handler runs and is let go (it may hold the request). */
  #handler: WebSocketHandler | undefined;
  readonly #parser: FrameParser;
  #channel: Channel | undefined;
  #state = CONNECTING;
  /** Messages received and not yet taken; made on the first one. */
  #inbox: Message[] | undefined;
  #waiting: { resolve: (message: Message) => void; reject: (error: WebSocketError) => void } | undefined;
  #closedPromise: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  /** A frame arrived since the last idle tick; a ping is out, unanswered. */
  #heard = false;
  #pinged = false;
  /** The send queue emptied since the last idle tick. */
  #drained = true;
  /** Our last frame is a close that needs no answer (an echo, or a failure): the TCP connection closes once it is sent. */
  #echoed = false;
  /** The close code: the client's, ours, or 1006 when the connection just ended. */
  code = CLOSE_ABNORMAL;
  reason = '';

  constructor(limits: Limits, handler: WebSocketHandler) {
    this.#limits = limits;
    this.#handler = handler;
    this.#parser = new FrameParser(limits);
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2), CLOSED (3). */
  get readyState(): number {
    return this.#state;
  }

  /** Bytes queued for sending that the socket has not taken. */
  get bufferedAmount(): number {
    return this.#channel?.queued ?? 0;
  }

  /** Resolves once the connection has closed (`code`, `reason` then say how). */
  get closed(): Promise<void> {
    return (this.#closedPromise ??= this.#state === CLOSED ? Promise.resolve() : new Promise((resolve) => { this.#resolveClosed = resolve; }));
  }

  /**
   * Sends a text (string) or binary (bytes) message in one frame. False when the socket is no longer
   * open (nothing sent). Throws RangeError when the frame would take `bufferedAmount` past `maxBufferedBytes`.
   */
  send(message: Message): boolean {
    if (this.#state !== OPEN) return false;
    const text = typeof message === 'string';
    const payload = text ? runtime().utf8Encode(message) : message;
    const channel = this.#channel as Channel;
    if (channel.queued + payload.length + 10 > this.#limits.maxBufferedBytes) {
      throw new RangeError(`xsdot: WebSocket send over maxBufferedBytes (${this.#limits.maxBufferedBytes}): ${channel.queued} bytes still queued`);
    }
    this.writeFrame(text ? TEXT : BINARY, payload);
    return true;
  }

  /**
   * The next message: a string (text) or bytes (binary). Rejects with WebSocketError (its `code` the
   * close code) once the socket has closed and no message is left. One call at a time.
   */
  receive(): Promise<Message> {
    const next = this.#inbox?.shift();
    if (next !== undefined) return Promise.resolve(next);
    if (this.#state >= CLOSING) return Promise.reject(new WebSocketError(this.code, this.reason === '' ? 'WebSocket closed' : this.reason));
    if (this.#waiting !== undefined) return Promise.reject(new Error('xsdot: WebSocket.receive() is already waiting'));
    return new Promise((resolve, reject) => { this.#waiting = { resolve, reject }; });
  }

  /** Messages until the socket closes (then the loop ends, without an error). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Message, void, undefined> {
    for (;;) {
      try {
        yield await this.receive();
      } catch (error) {
        if (error instanceof WebSocketError) return;
        throw error;
      }
    }
  }

  /**
   * Starts the closing handshake (§7.1.2): sends a close frame with `code` (1000, or 3000-4999 for an
   * app's own) and `reason` (at most 123 UTF-8 bytes), then waits for the client's (at most 2 s).
   */
  close(code = CLOSE_NORMAL, reason = ''): void {
    if (!isValidCloseCode(code)) throw new RangeError(`xsdot: ${code} is not a close code an endpoint may send`);
    this.closeWith(code, reason);
  }

  // Protocol: the connection after the 101.

  start(channel: Channel): void {
    this.#channel = channel;
    this.#state = OPEN;
    channel.armTimeout(this.#limits.idleTimeout);
    const handler = this.#handler as WebSocketHandler;
    this.#handler = undefined;
    runHandler(handler, this, () => this.handlerDone(), (error) => this.handlerFailed(error));
  }

  onData(bytes: Uint8Array): void {
    this.#heard = true;
    this.#pinged = false;
    if (this.#state === CLOSED) return;
    try {
      this.#parser.push(bytes, this);
    } catch (error) {
      if (!(error instanceof WebSocketError)) throw error;
      // _Fail the WebSocket Connection_ (§7.1.7): say why, close without waiting for an answer.
      this.closeWith(error.code, error.message);
      this.endAfterClose();
    }
  }

  onDrained(): void {
    this.#drained = true;
    // After our close frame went out in answer to the client's, the server closes the TCP connection first (§7.1.1).
    if (this.#state === CLOSING && this.#echoed) this.#channel?.close();
  }

  onTimeout(): void {
    const channel = this.#channel as Channel;
    if (this.#state === CLOSING) {
      channel.close();
      return;
    }
    // A client that took none of our bytes for a whole period, or answered nothing, not even a ping.
    if ((channel.queued > 0 && !this.#drained) || (!this.#heard && this.#pinged)) {
      this.closeWith(CLOSE_GOING_AWAY, 'idle');
      channel.close();
      return;
    }
    if (!this.#heard) {
      this.writeFrame(PING, new Uint8Array(0));
      this.#pinged = true;
    }
    this.#heard = false;
    this.#drained = channel.queued === 0;
    channel.armTimeout(this.#limits.idleTimeout);
  }

  onClose(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    this.#state = CLOSED;
    this.#inbox = undefined;
    waiting?.reject(new WebSocketError(this.code, this.reason === '' ? 'WebSocket closed' : this.reason));
    this.#resolveClosed?.();
    this.#resolveClosed = undefined;
  }

  // FrameSink: what the client sent.

  onMessage(text: boolean, payload: Uint8Array): void {
    if (this.#state !== OPEN) return;
    const message: Message = text ? runtime().utf8Decode(payload) : payload;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting.resolve(message);
      return;
    }
    const inbox = (this.#inbox ??= []);
    if (inbox.length >= this.#limits.maxQueuedMessages) {
      this.closeWith(CLOSE_POLICY, `more than maxQueuedMessages (${this.#limits.maxQueuedMessages}) waiting`);
      this.endAfterClose();
      return;
    }
    inbox.push(message);
  }

  onPing(payload: Uint8Array): void {
    if (this.#state === OPEN) this.writeFrame(PONG, payload);
  }

  onPong(): void {
    // Any frame counts as a sign of life (onData); a pong needs nothing more.
  }

  onCloseFrame(code: number, reason: Uint8Array): void {
    if (this.#state === CLOSING) {
      // The answer to our close: the handshake is complete.
      this.#channel?.close();
      return;
    }
    this.code = code;
    this.reason = runtime().utf8Decode(reason);
    // Echo the code (§5.5.1); an empty close is answered with an empty one.
    this.#echoed = true;
    this.#state = CLOSING;
    this.writeFrame(CLOSE, code === CLOSE_NO_STATUS ? new Uint8Array(0) : closePayload(code, new Uint8Array(0)));
    this.rejectWaiting();
    if ((this.#channel as Channel).queued === 0) this.#channel?.close();
    else this.#channel?.armTimeout(CLOSE_WAIT);
  }

  private writeFrame(opcode: number, payload: Uint8Array): void {
    this.#channel?.send(encodeFrame(opcode, payload));
  }

  /** Sends our close frame (once) and waits for the client's. */
  private closeWith(code: number, reason: string): void {
    if (this.#state !== OPEN && this.#state !== CONNECTING) return;
    this.code = code;
    this.reason = reason;
    if (this.#channel === undefined) {
      this.#state = CLOSED;
      return;
    }
    this.#state = CLOSING;
    this.writeFrame(CLOSE, closePayload(code, runtime().utf8Encode(reason)));
    this.rejectWaiting();
    this.#channel.armTimeout(CLOSE_WAIT);
  }

  /** Closes the TCP connection once our close frame has gone (at most CLOSE_WAIT). */
  private endAfterClose(): void {
    this.#echoed = true;
    if ((this.#channel as Channel).queued === 0) this.#channel?.close();
  }

  private rejectWaiting(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(new WebSocketError(this.code, this.reason === '' ? 'WebSocket closed' : this.reason));
  }

  private handlerDone(): void {
    if (this.#state === OPEN) this.closeWith(CLOSE_NORMAL, '');
  }

  private handlerFailed(error: unknown): void {
    runtime().log('error', `xsdot: WebSocket handler failed: ${error instanceof Error ? error.message : String(error)}`);
    if (this.#state === OPEN) this.closeWith(CLOSE_INTERNAL_ERROR, '');
  }
}

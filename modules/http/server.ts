/**
 * The HTTP/1.1 server over ECMA-419 sockets. One `Connection` per socket reads at most what the
 * parser may take (so a connection's RAM is bounded by the limits), answers requests in order
 * (keep-alive and pipelining), and writes only as many bytes as the socket says it can take.
 */
import { runtime, type TimerId } from '../runtime';
import type { App } from './app';
import { errorResponse, isThenable } from './app';
import { clientGroup } from './address';
import { authorityStatus, HostAllowList } from './authority';
import { connectionToEvict } from './fairness';
import { latin1Bytes } from './bytes';
import { encodeFields, encodeHead, writeHead, type ConnectionField, type Framing } from './head';
import { HttpError } from './errors';
import { resolveLimits, type Limits } from './limits';
import { BodyStreamError, RequestBody, StreamedRequest } from './body';
import { RequestParser, setBodyPolicy, type ParsedRequest, type RequestHead } from './parser';
import { Request } from './request';
import { Headers } from './headers';
import type { BodyChunk, Response } from './response';
import type { ListenerSocket, SocketProvider, TCPConstructor, TCPSocket } from './socket';
import { TAKEOVER_READ, TakeoverResponse, type Channel, type Protocol } from './takeover';

export interface ServerOptions {
  limits?: Partial<Limits>;
  /** Seconds a client is told to wait when the connection cap is reached (Retry-After). */
  retryAfter?: number;
  /**
   * The names the server answers to (authority.ts: `name`, `name:port`, `[v6]:port`, `*`); a request
   * naming another gets 421 before routing, an invalid Host 400. Default `*` (any valid Host): the
   * hosts' `serve()` pass their own default — the listening address's names with its port.
   */
  allowedHosts?: readonly string[];
}

export interface ListenOptions {
  port: number;
  /** Bind address where the host supports it (Moddable's Linux listener binds all interfaces). */
  address?: string;
}

const CONTINUE = latin1Bytes('HTTP/1.1 100 Continue\r\n\r\n');
const CHUNK_END = latin1Bytes('0\r\n\r\n');
const CRLF = latin1Bytes('\r\n');
const UNAVAILABLE = latin1Bytes('Service Unavailable');

export class Server {
  readonly app: App;
  readonly limits: Limits;
  readonly retryAfter: number;
  readonly #connections = new Set<Connection>();
  #hosts: HostAllowList;
  /** Sockets being told 503; bounded too, so a flood cannot pile them up. */
  #rejecting = 0;
  #listener: ListenerSocket | undefined;
  #closing = false;

  constructor(app: App, options: ServerOptions = {}) {
    this.app = app;
    this.limits = resolveLimits(options.limits);
    this.retryAfter = options.retryAfter ?? 1;
    this.#hosts = new HostAllowList(options.allowedHosts ?? ['*']);
    setBodyPolicy(this.limits, (method, target) => app.streamLimit(method, target));
  }

  /** The allow-list of names (see ServerOptions.allowedHosts). */
  get allowedHosts(): readonly string[] {
    return this.#hosts.entries;
  }

  /** Replaces the allow-list (hosts call it once the bound port is known). Throws TypeError for an invalid entry. */
  allowHosts(entries: readonly string[]): void {
    this.#hosts = new HostAllowList(entries);
  }

  /** @internal 0 when `head` names this server, else the status to answer (400, 421). */
  authorityStatus(head: ParsedRequest['head']): number {
    return authorityStatus(head, this.#hosts);
  }

  /** Open connections (not counting those being refused with 503). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Starts accepting connections through the host's ECMA-419 Listener and TCP classes; returns the listener. */
  listen(sockets: SocketProvider, options: ListenOptions): ListenerSocket {
    if (this.#listener !== undefined) throw new Error('xsdot: server is already listening');
    this.#closing = false;
    const listener: ListenerSocket = new sockets.Listener({
      port: options.port,
      address: options.address,
      onReadable: (count: number) => {
        // Moddable signals only new arrivals: take every pending connection now.
        for (let i = 0; i < count; i++) {
          const from = listener.read();
          if (from === undefined) break;
          this.accept(sockets.TCP, from);
        }
      },
    });
    this.#listener = listener;
    return listener;
  }

  /** Serves one accepted connection (a Listener handle, or any `from` the TCP class understands). */
  accept(TCP: TCPConstructor, from: unknown): void {
    if (this.#closing || (this.#connections.size >= this.limits.maxConnections && !this.#evictFor(from))) {
      this.#refuse(TCP, from);
      return;
    }
    const connection = new Connection(this, TCP, from);
    this.#connections.add(connection);
  }

  /** Stops listening and closes every connection. */
  close(): void {
    this.#closing = true;
    this.#listener?.close();
    this.#listener = undefined;
    for (const connection of [...this.#connections]) connection.close();
    if (this.#timer !== undefined) runtime().clearTimer(this.#timer);
    this.#timer = undefined;
  }

  get closing(): boolean {
    return this.#closing;
  }

  #headBuffer: Uint8Array | undefined;
  /** The one timer for every connection's deadline, and when it fires. */
  #timer: TimerId | undefined;
  #timerDue = 0;
  readonly #onTimer = (): void => this.#sweep();

  /**
   * @internal A connection's deadline is now `deadline`: the timer fires by then. A later deadline
   * leaves the timer as it is (it re-arms for what is left when it fires), so phases cost no timer calls.
   */
  watch(deadline: number): void {
    if (this.#timer !== undefined && this.#timerDue <= deadline) return;
    const host = runtime();
    if (this.#timer !== undefined) host.clearTimer(this.#timer);
    this.#timerDue = deadline;
    this.#timer = host.setTimer(this.#onTimer, Math.max(1, deadline - host.monotonic()));
  }

  /** Times out the connections whose deadline passed; re-arms for the earliest one left. */
  #sweep(): void {
    this.#timer = undefined;
    const now = runtime().monotonic();
    let next = 0;
    for (const connection of this.#connections) {
      const deadline = connection.deadline;
      if (deadline === 0) continue;
      if (deadline <= now) connection.timeOut();
      else if (next === 0 || deadline < next) next = deadline;
    }
    if (next !== 0) this.watch(next);
  }

  /** @internal The buffer response heads are written into (made on first use: RAM, not flash). */
  headBuffer(): Uint8Array {
    return (this.#headBuffer ??= new Uint8Array(HEAD_BUFFER_BYTES));
  }

  /** @internal */
  forget(connection: Connection): void {
    this.#connections.delete(connection);
  }

  /** At the cap: closes a connection of the client holding the most (fairness.ts); false when none should go. */
  #evictFor(from: unknown): boolean {
    const address = (from as { readonly remoteAddress?: unknown } | undefined)?.remoteAddress;
    const victim = connectionToEvict(this.#connections, clientGroup(typeof address === 'string' ? address : undefined));
    victim?.close();
    return victim !== undefined;
  }

  /** Answers 503 with Retry-After and closes; beyond a bound, closes at once without answering. */
  #refuse(TCP: TCPConstructor, from: unknown): void {
    const bytes = encodeHead(503, new Headers({ 'Retry-After': String(this.retryAfter), 'Content-Type': 'text/plain; charset=utf-8' }),
      'length', UNAVAILABLE.length, 'close', UNAVAILABLE);
    let socket: TCPSocket | undefined;
    let timer: TimerId | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.#rejecting--;
      if (timer !== undefined) runtime().clearTimer(timer);
      try { socket?.close(); } catch { /* already closed */ }
    };
    this.#rejecting++;
    try {
      socket = new TCP({
        from,
        format: 'buffer',
        onWritable: (count: number) => {
          if (done || socket === undefined) return;
          if (count >= bytes.length) {
            try {
              socket.write(bytes);
            } catch { /* the client is gone */ }
          }
          finish();
        },
        onError: finish,
      });
    } catch {
      finish();
      return;
    }
    if (this.#rejecting > this.limits.maxConnections) finish();
    else timer = runtime().setTimer(finish, this.limits.sendTimeout);
  }
}

type Phase = 'idle' | 'receiving' | 'handling' | 'sending' | 'live' | 'closed';

/**
 * The protocol of each connection taken over (takeover.ts), made on first use: a field on Connection
 * would cost every request a slot.
 */
let protocols: WeakMap<Connection, Protocol> | undefined;

/**
 * The streamed body (body.ts) each connection is reading, if any: kept apart from Connection so that a
 * connection that never streams carries no field for it. Made on first use (see parser.ts `policies`).
 */
let streams: WeakMap<object, RequestBody> | undefined;

/** The client key of each connection (address.ts), worked out only when a server is at its connection cap. */
let clients: WeakMap<Connection, string> | undefined;

/**
 * One client connection: read → parse → handle → write, one request at a time; or, taken over, a Channel.
 * Its methods are not #private: XS gives every instance a slot per private method (26 a connection). The
 * class is the server's own (not exported); a protocol sees it as a Channel.
 */
class Connection implements Channel {
  readonly #server: Server;
  readonly #socket: TCPSocket;
  readonly #parser: RequestParser;
  #phase: Phase = 'idle';
  /** Bytes the socket said it holds for us and we have not read. */
  #readable = 0;
  /** Bytes the socket said it can take now. */
  #writable = 0;
  /** Bytes waiting for the socket, in order; undefined when none (most responses are written at once). */
  #queue: Uint8Array[] | undefined;
  #drained: (() => void) | undefined;
  /**
   * When the current phase times out (`runtime().monotonic()` ms); 0 while nothing can time out. The
   * server's one timer watches every connection's deadline (`Server.watch`): a connection costs no
   * host timer and no closure.
   */
  deadline = 0;
  #served = 0;
  #sentContinue = false;
  /** The peer closed its side (or the connection failed): no more bytes will arrive. */
  #peerClosed = false;

  constructor(server: Server, TCP: TCPConstructor, from: unknown) {
    this.#server = server;
    this.#parser = new RequestParser(server.limits);
    this.#socket = new TCP({
      from,
      format: 'buffer',
      nodelay: true,
      target: this,
      onReadable: Connection.#socketReadable,
      onWritable: Connection.#socketWritable,
      onError: Connection.#socketError,
    });
    this.arm(server.limits.idleTimeout);
  }

  // The socket callbacks, shared by every connection: the socket's `target` is the connection.
  static #socketReadable(this: TCPSocket, count: number): void {
    (this.target as Connection).onReadable(count);
  }

  static #socketWritable(this: TCPSocket, count: number): void {
    (this.target as Connection).onWritable(count);
  }

  static #socketError(this: TCPSocket, error?: unknown): void {
    (this.target as Connection).onError(error);
  }

  /** The client key of the peer (address.ts), worked out only when the server is at its connection cap. */
  get client(): string {
    clients ??= new WeakMap();
    let client = clients.get(this);
    if (client === undefined) clients.set(this, client = clientGroup(this.#socket.remoteAddress));
    return client;
  }

  /** How readily fairness.ts may close this connection: idle 3, receiving 2, sending 1, handling or closed 0. */
  get evictable(): number {
    switch (this.#phase) {
      case 'idle': return 3;
      case 'receiving': return 2;
      case 'sending':
      case 'live': return 1;
      default: return 0;
    }
  }

  /** A getter, not a field test: the phase changes across awaits, which type narrowing cannot see. */
  get isClosed(): boolean {
    return this.#phase === 'closed';
  }

  close(): void {
    if (this.isClosed) return;
    const protocol = this.#phase === 'live' ? protocols?.get(this) : undefined;
    this.#phase = 'closed';
    this.disarm();
    this.#queue = undefined;
    this.#drained?.();
    this.failBody('the connection closed before the end of the body');
    this.#server.forget(this);
    try { this.#socket.close(); } catch { /* already closed by the peer */ }
    if (protocol !== undefined) {
      protocols?.delete(this);
      protocol.onClose();
    }
  }

  onReadable(count: number): void {
    this.#readable = count;
    if (this.#phase === 'idle' || this.#phase === 'receiving') this.receive();
    else if (this.#phase === 'live') this.feed();
    else streams?.get(this)?.readable();
  }

  onWritable(count: number): void {
    this.#writable = count;
    this.flush();
  }

  /**
   * No more input. After a FIN (no `error`: the peer ends its input, not its interest in the answers)
   * the complete requests already received are still answered, in order, then the connection closes.
   * A failed connection (`error`) can take no answer: it closes now.
   */
  onError(error: unknown): void {
    this.#peerClosed = true;
    // A taken-over connection lives only as long as its client: a FIN ends it too.
    if (error !== undefined || this.#phase === 'live') this.close();
    else if (this.#phase === 'idle' || this.#phase === 'receiving') this.receive();
    else this.failBody('the client closed its side before the end of the body');
  }

  /** Reads what the parser may take and answers each complete request. */
  receive(): void {
    try {
      for (;;) {
        const wants = this.#parser.wants;
        if (wants > 0) {
          // Declared in this block: XS's collector keeps what a variable of a live block holds, and the
          // bytes read must not stay alive while the request is answered (measured: 4 concurrent
          // GET /me need 116 more chunk bytes when they do).
          const bytes = this.readSocket(wants);
          if (bytes !== undefined) {
            if (this.#phase === 'idle') {
              this.#phase = 'receiving';
              this.arm(this.#server.limits.requestTimeout);
            }
            this.#parser.push(bytes);
          }
        }
        const request = this.#parser.next();
        if (request !== undefined) {
          // Answered synchronously and ready for the next request: go on here, in a loop, so that
          // pipelined requests do not nest calls on a device's small stack. Otherwise the answer
          // resumes receiving itself.
          if (!this.answer(request)) return;
          continue;
        }
        this.maybeContinue();
        if (this.#readable === 0 || this.#parser.wants === 0) {
          // Nothing complete is left and nothing more will come: a partial request can never finish.
          if (this.#peerClosed) this.close();
          return;
        }
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** Sends `100 Continue` once the head of an `Expect: 100-continue` request passed the limits. */
  maybeContinue(): void {
    const head = this.#parser.head;
    if (head === undefined || !head.expectContinue || this.#sentContinue) return;
    this.#sentContinue = true;
    this.enqueue(CONTINUE);
    this.flush();
  }

  /** Answers a parse error or limit violation, then closes. */
  fail(error: unknown): void {
    if (this.isClosed) return;
    const httpError = error instanceof HttpError ? error : new HttpError(400, undefined, { close: true });
    if (!(error instanceof HttpError)) runtime().log('error', `xsdot: parser failure: ${String(error)}`);
    this.#phase = 'sending';
    this.disarm();
    void this.sendResponse(errorResponse(httpError), 'GET', '1.1', false);
  }

  /**
   * Handles a request and writes its response. True when that all happened synchronously and the
   * connection waits for its next request (the caller goes on reading); false when the connection
   * closed or the answer continues asynchronously (it then resumes receiving by itself).
   */
  answer(parsed: ParsedRequest): boolean {
    this.#phase = 'handling';
    this.disarm();
    this.#sentContinue = false;
    this.#served++;
    const request = parsed.head.streamLimit === undefined
      ? new Request(parsed.head, parsed.body, this.#socket.remoteAddress, this.#server.limits)
      : this.streamedRequest(parsed.head, parsed.head.streamLimit);
    // A request for another name (DNS rebinding) or with an invalid Host is answered without routing.
    const refused = this.#server.authorityStatus(parsed.head);
    const response = refused === 0
      ? this.#server.app.handle(request)
      : this.#server.app.handleError(request, new HttpError(refused, refused === 421 ? 'This server does not answer to that host name.' : 'Invalid Host.'));
    const wantsKeepAlive = refused === 0 && parsed.head.keepAlive;
    if (isThenable(response)) {
      void response.then((settled) => {
        if (this.respond(settled, request, wantsKeepAlive)) this.resume();
      });
      return false;
    }
    return this.respond(response, request, wantsKeepAlive);
  }

  /** Writes the response; true when it is all written and the connection waits for the next request. */
  respond(response: Response, request: Request, wantsKeepAlive: boolean): boolean {
    if (this.isClosed) return false;
    // A half-closed peer keeps its keep-alive: requests it pipelined before its FIN are answered too.
    if (response instanceof TakeoverResponse && request.method !== 'HEAD') return this.takeOver(response);
    const keepAlive = this.endBody() && wantsKeepAlive && !this.#server.closing && this.#served < this.#server.limits.maxRequestsPerConnection;
    this.#phase = 'sending';
    const sent = this.sendResponse(response, request.method, request.version, keepAlive);
    if (isThenable(sent)) {
      void sent.then((done) => {
        if (done && keepAlive && this.awaitNext()) this.resume();
      });
      return false;
    }
    return sent && keepAlive && this.awaitNext();
  }

  /** Writes the head of `response` and hands the connection to its protocol (takeover.ts). Always false: no next request. */
  takeOver(response: TakeoverResponse): false {
    this.#phase = 'live';
    this.disarm();
    this.enqueue(encodeHead(response.status, response.headers, 'none', 0, response.upgrade ? 'upgrade' : 'close'));
    (protocols ??= new WeakMap()).set(this, response.protocol);
    response.protocol.start(this);
    this.flush();
    return false;
  }

  /** Hands what the client sent to the protocol that took the connection over, in bounded reads. */
  feed(): void {
    const protocol = protocols?.get(this);
    while (this.#readable > 0 && protocol !== undefined && this.#phase === 'live') {
      const bytes = this.readSocket(TAKEOVER_READ);
      if (bytes !== undefined) protocol.onData(bytes);
    }
  }

  /**
   * Up to `max` of the bytes the socket said it holds, or undefined when it holds (or gave) none.
   * Comparisons, not Math.min/max: each is a native call on XS, and this runs for every read.
   */
  readSocket(max: number): Uint8Array | undefined {
    const readable = this.#readable;
    if (readable <= 0) return undefined;
    const bytes = this.#socket.read(readable < max ? readable : max);
    const length = bytes === undefined ? 0 : bytes.byteLength;
    this.#readable = length === 0 || length >= readable ? 0 : readable - length;
    return length === 0 ? undefined : new Uint8Array(bytes as ArrayBuffer);
  }

  /** Channel: queues bytes of the protocol that took the connection over, and writes what the socket takes. */
  send(bytes: Uint8Array): void {
    this.enqueue(bytes);
    this.flush();
  }

  /** Channel: bytes queued, not yet written. */
  get queued(): number {
    const queue = this.#queue;
    let total = 0;
    if (queue !== undefined) for (let i = 0; i < queue.length; i++) total += queue[i].length;
    return total;
  }

  /** Channel: the protocol's timeout `ms` from now; 0 disarms. */
  armTimeout(ms: number): void {
    if (ms > 0) this.arm(ms);
    else this.disarm();
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  /**
   * A request whose route streams its body: the handler reads it through request.stream, from the bytes
   * that came with the head, then from the socket only while a read waits (backpressure).
   */
  streamedRequest(head: RequestHead, limit: number): Request {
    const chunked = head.headers.countLower('transfer-encoding') > 0;
    const source = {
      read: (max: number) => this.readBody(max),
      continue: () => {
        if (!head.expectContinue) return;
        this.enqueue(CONTINUE);
        this.flush();
      },
    };
    const body = new RequestBody(source, chunked ? undefined : head.contentLength, limit, this.#server.limits.maxBody, this.#parser.takeBuffered());
    (streams ??= new WeakMap()).set(this, body);
    return new StreamedRequest(head, this.#socket.remoteAddress, this.#server.limits, body);
  }

  /** Up to `max` body bytes the socket holds; else undefined, with the request timeout running until more arrive. */
  readBody(max: number): Uint8Array | undefined {
    if (this.isClosed) throw new BodyStreamError('xsdot: the connection closed before the end of the body');
    const bytes = this.readSocket(max);
    if (bytes !== undefined) {
      this.disarm();
      return bytes;
    }
    if (this.#peerClosed) throw new BodyStreamError('xsdot: the client closed its side before the end of the body');
    this.arm(this.#server.limits.requestTimeout);
    return undefined;
  }

  /**
   * After the handler: a streamed body read to its end gives its extra bytes (a pipelined request's)
   * back to the parser; one not read to its end fails (later reads reject) and the connection closes
   * after the response (false), as its remaining bytes cannot be told from a next request.
   */
  endBody(): boolean {
    const body = streams?.get(this);
    if (body === undefined) return true;
    streams?.delete(this);
    if (!body.complete) {
      body.fail(new BodyStreamError('xsdot: the response was sent before the body was read'));
      return false;
    }
    const rest = body.takeLeftover();
    if (rest.length > 0) this.#parser.push(rest);
    return true;
  }

  /** A streamed body being read ends: its reads reject with BodyStreamError(`reason`). */
  failBody(reason: string): void {
    streams?.get(this)?.fail(new BodyStreamError(`xsdot: ${reason}`));
  }

  /** After a response on a kept-alive connection: waits for the next request; true when bytes of it may be read now. */
  awaitNext(): boolean {
    // Bytes of a pipelined request already here count against the request timeout, not the idle one.
    const pipelined = this.#parser.hasPartialRequest;
    this.#phase = pipelined ? 'receiving' : 'idle';
    this.arm(pipelined ? this.#server.limits.requestTimeout : this.#server.limits.idleTimeout);
    return true;
  }

  /** Goes on reading after an asynchronous answer (from a promise job: a fresh stack); closes a half-closed peer's connection when nothing is left. */
  resume(): void {
    if (this.#parser.hasPartialRequest || this.#readable > 0 || this.#peerClosed) this.receive();
  }

  /**
   * Writes a response: synchronously when its body is bytes or text and the socket takes it all now
   * (true: written; false: the connection was closed), else a promise of that.
   */
  sendResponse(response: Response, method: string, version: '1.0' | '1.1', keepAlive: boolean): boolean | Promise<boolean> {
    const body = response.body;
    const noBody = method === 'HEAD' || response.status === 204 || response.status === 304 || response.status < 200;
    let bytes: Uint8Array | undefined;
    let streamed = false;
    if (typeof body === 'string') bytes = runtime().utf8Encode(body);
    else if (body instanceof Uint8Array) bytes = body;
    else if (body !== undefined) streamed = true;
    // A stream that knows its length (a static file, static.ts) goes out with Content-Length.
    const sized = streamed ? streamLength(body) : -1;
    // Another streamed body to an HTTP/1.0 client is delimited by closing the connection.
    if (streamed && sized < 0 && version === '1.0') keepAlive = false;
    // The framing fields are the server's: the app's own Content-Length etc. are dropped.
    let framing: Framing = 'none';
    if (bytes !== undefined || sized >= 0) framing = 'length';
    else if (streamed) {
      // Chunked only to HTTP/1.1: a 1.0 client gets the raw bytes, ended by the close (RFC 9112 §6.1).
      if (version === '1.1') framing = 'chunked';
    } else if (response.status >= 200 && response.status !== 204 && response.status !== 304) framing = 'length';
    const connection: ConnectionField = !keepAlive ? 'close' : version === '1.0' ? 'keep-alive' : 'none';
    // A small body goes out with its head in one write: two small writes wait for the client's
    // delayed ACK (Nagle), ~40 ms per response on Moddable's Linux sockets.
    // Read once: on XS a typed array's `length` is a native call.
    const size = bytes !== undefined ? bytes.length : sized > 0 ? sized : 0;
    const inline = !noBody && bytes !== undefined && size <= COALESCE_BYTES ? bytes : undefined;
    const fields = encodeFields(response.headers);
    let buffer = this.#server.headBuffer();
    const length = writeHead(buffer, response.status, fields, framing, size, connection, inline);
    if (length > HEAD_BUFFER_BYTES) {
      buffer = new Uint8Array(length);
      writeHead(buffer, response.status, fields, framing, size, connection, inline);
    }
    this.writeNow(buffer, length);
    if (!noBody && inline === undefined && bytes !== undefined && size > 0) this.enqueue(bytes);
    if (streamed) return this.sendStream(body as Iterable<BodyChunk> | AsyncIterable<BodyChunk>, noBody, framing === 'chunked', keepAlive);
    return this.finish(keepAlive);
  }

  async sendStream(body: Iterable<BodyChunk> | AsyncIterable<BodyChunk>, noBody: boolean, chunked: boolean, keepAlive: boolean): Promise<boolean> {
    if (noBody) closeIterator(body);
    else if (!(await this.streamBody(body, chunked))) return false;
    return this.finish(keepAlive);
  }

  /** Flushes what is queued; closes unless kept alive. True (or a promise of it) while the connection is open. */
  finish(keepAlive: boolean): boolean | Promise<boolean> {
    this.flush();
    // A closure only when the answer waits for the socket: most are written at once.
    return this.#queue !== undefined ? this.whenDrained().then(() => this.closeUnless(keepAlive)) : this.closeUnless(keepAlive);
  }

  /** Closes unless kept alive; true while the connection is open. */
  closeUnless(keepAlive: boolean): boolean {
    if (!keepAlive) this.close();
    return !this.isClosed;
  }

  /** Pulls the next piece only when the previous one has left, so at most one piece is in RAM. */
  async streamBody(body: Iterable<BodyChunk> | AsyncIterable<BodyChunk>, chunked: boolean): Promise<boolean> {
    try {
      for await (const piece of body as AsyncIterable<BodyChunk>) {
        if (this.isClosed) return false;
        const bytes = typeof piece === 'string' ? runtime().utf8Encode(piece) : piece;
        if (bytes.length === 0) continue;
        if (chunked) this.enqueue(latin1Bytes(bytes.length.toString(16) + '\r\n'));
        this.enqueue(bytes);
        if (chunked) this.enqueue(CRLF);
        this.flush();
        if (this.#queue !== undefined) await this.whenDrained();
        if (this.isClosed) return false;
      }
    } catch (error) {
      // Headers are gone already: the only honest signal left is to cut the connection.
      runtime().log('error', `xsdot: streamed body failed: ${error instanceof Error ? error.message : String(error)}`);
      this.close();
      return false;
    }
    if (chunked) this.enqueue(CHUNK_END);
    return true;
  }

  /**
   * Writes `buffer[0..length)` now when nothing waits before it and the socket takes it all (the
   * socket copies it), else queues it — a copy when it is the server's head buffer, reused by the next response.
   */
  writeNow(buffer: Uint8Array, length: number): void {
    if (this.isClosed) return;
    if (this.#queue === undefined && length <= this.#writable) {
      try {
        this.#socket.write(length === buffer.length ? buffer : buffer.subarray(0, length));
      } catch {
        this.close();
        return;
      }
      this.#writable -= length;
      return;
    }
    this.enqueue(buffer === this.#server.headBuffer() ? buffer.slice(0, length) : buffer);
  }

  enqueue(bytes: Uint8Array): void {
    if (!this.isClosed) (this.#queue ??= []).push(bytes);
  }

  whenDrained(): Promise<void> {
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }

  /** Writes as much of the queue as the socket takes; arms the send timeout while bytes wait. */
  flush(): void {
    if (this.isClosed) return;
    let progressed = false;
    const queue = this.#queue;
    try {
      while (queue !== undefined && queue.length > 0 && this.#writable > 0) {
        const piece = queue[0];
        const length = piece.length;
        const count = length < this.#writable ? length : this.#writable;
        this.#socket.write(count === length ? piece : piece.subarray(0, count));
        this.#writable -= count;
        if (count === length) queue.shift();
        else queue[0] = piece.subarray(count);
        progressed = true;
      }
    } catch {
      this.close();
      return;
    }
    if (queue !== undefined && queue.length > 0) {
      // Bytes wait for the client: the send timeout restarts with each progress (once per flush, not
      // per write). While a request is still arriving, its own timeout stays in charge; a protocol
      // that took the connection over keeps its own.
      if (this.#phase !== 'live' && (this.deadline === 0 || (progressed && this.#phase === 'sending'))) this.arm(this.#server.limits.sendTimeout);
      return;
    }
    this.#queue = undefined;
    if (this.#phase === 'sending') this.disarm();
    const drained = this.#drained;
    this.#drained = undefined;
    drained?.();
    if (progressed && this.#phase === 'live') protocols?.get(this)?.onDrained();
  }

  /** The current phase times out `ms` from now. */
  arm(ms: number): void {
    this.deadline = runtime().monotonic() + ms;
    this.#server.watch(this.deadline);
  }

  disarm(): void {
    this.deadline = 0;
  }

  /** @internal Called by the server's timer once `deadline` has passed. */
  timeOut(): void {
    if (this.isClosed || this.deadline === 0) return;
    this.deadline = 0;
    this.onTimeout();
  }

  onTimeout(): void {
    if (this.#phase === 'live') {
      protocols?.get(this)?.onTimeout();
    } else if (this.#phase === 'receiving') {
      // Slow or stalled client mid-request: tell it, then close.
      this.fail(new HttpError(408, undefined, { close: true }));
    } else {
      // Idle keep-alive connection, a client that does not read its response, or a streamed body stalled.
      this.failBody('no body bytes arrived within requestTimeout');
      this.close();
    }
  }
}

/** A body up to this many bytes is written together with its head (see `#send`). */
const COALESCE_BYTES = 1024;

/**
 * The server's buffer for response heads (and small bodies with them): one for all connections, as
 * a head is written to the socket at once — the socket copies it — or copied to the connection's queue.
 * A longer head gets a buffer of its own.
 */
const HEAD_BUFFER_BYTES = 512;

/**
 * The `contentLength` a streamed body declares (static.ts's files), else -1. Such a body must yield
 * exactly that many bytes, or throw (the server then cuts the connection).
 */
function streamLength(body: unknown): number {
  const length = (body as { contentLength?: unknown }).contentLength;
  return typeof length === 'number' && Number.isInteger(length) && length >= 0 ? length : -1;
}

function closeIterator(body: Iterable<BodyChunk> | AsyncIterable<BodyChunk>): void {
  const iterator = body as { return?: () => unknown };
  try { void iterator.return?.(); } catch { /* nothing to release */ }
}

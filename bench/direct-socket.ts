/**
 * An ECMA-419 TCP socket driven the way a device's event loop drives its native socket: the bench calls
 * `onWritable`/`onReadable` itself, synchronously, never from a promise job (modules/http/memory-socket.ts
 * defers every callback through a promise, a test harness's cost that no device pays). The client keeps
 * the first bytes of the response in one reused buffer and counts the rest, so what is counted is the
 * server's. Portable: runs inside XS (the fit host, xsnap-worker, the Moddable x-cli-lin build) and on Node.
 */
import { latin1Bytes } from '../modules/http/bytes';
import type { Server } from '../modules/http/server';
import type { TCPOptions, TCPSocket } from '../modules/http/socket';

/** What the socket lets the server write per onWritable, as on Moddable's Linux sockets. */
export const WINDOW = 1536;
const STATUS_200 = latin1Bytes('HTTP/1.1 200 ');
const NOTHING = new Uint8Array(0);

/** The client's end of one connection at a time: request bytes to hand out, the response's first bytes kept. */
export class DirectPeer {
  /** The first bytes of the response (as many as fit). */
  readonly response: Uint8Array;
  /** Bytes kept in `response`. */
  length = 0;
  /** Bytes the server wrote in all. */
  received = 0;
  closed = false;
  request: Uint8Array = NOTHING;
  /** Request bytes the server may read now (the rest arrives with `arrive()`). */
  available = 0;
  read = 0;
  socket: DirectTCP | undefined;

  constructor(keep = 4096) {
    this.response = new Uint8Array(keep);
  }

  /** A new connection that will send `request`, `available` bytes of it at first. */
  reset(request: Uint8Array, available = request.length): void {
    this.request = request;
    this.available = available;
    this.read = 0;
    this.length = 0;
    this.received = 0;
    this.closed = false;
    this.socket = undefined;
  }

  /** More of the request arrives: the socket says so, as the event loop would. */
  arrive(count: number): void {
    this.available = Math.min(this.request.length, this.available + count);
    if (!this.closed && this.socket !== undefined) this.socket.options.onReadable?.call(this.socket, this.available - this.read);
  }

  /** The status code of the response, or 0 before one arrived. */
  get status(): number {
    const r = this.response;
    return this.length >= 12 ? (r[9] - 48) * 100 + (r[10] - 48) * 10 + (r[11] - 48) : 0;
  }
}

/** The server's end, shaped like `embedded:io/socket/tcp`; its callbacks fire when the bench says. */
export class DirectTCP implements TCPSocket {
  readonly options: TCPOptions;
  readonly #peer: DirectPeer;

  constructor(options: TCPOptions) {
    this.options = options;
    this.#peer = options.from as DirectPeer;
    this.#peer.socket = this;
  }

  get remoteAddress(): string {
    return '127.0.0.1';
  }

  get target(): unknown {
    return this.options.target;
  }

  read(count?: number): ArrayBuffer | undefined {
    const peer = this.#peer;
    const take = Math.min(count ?? Infinity, peer.available - peer.read);
    if (take <= 0) return undefined;
    // A device's read() also returns a new buffer.
    const bytes = peer.request.slice(peer.read, peer.read + take);
    peer.read += take;
    return bytes.buffer;
  }

  write(data: ArrayBuffer | Uint8Array): void {
    const peer = this.#peer;
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (peer.closed) throw new Error('socket closed');
    const keep = Math.min(bytes.length, peer.response.length - peer.length);
    if (keep > 0) peer.response.set(keep === bytes.length ? bytes : bytes.subarray(0, keep), peer.length);
    peer.length += keep;
    peer.received += bytes.length;
  }

  close(): void {
    this.#peer.closed = true;
  }
}

/**
 * Opens a connection from `peer` to `server` and delivers `available` bytes of `request` (all by
 * default). With the whole request, a synchronous app and a response within one window, the answer is
 * written and the connection closed on return.
 */
export function open(server: Server, peer: DirectPeer, request: Uint8Array, available = request.length): void {
  peer.reset(request, available);
  server.accept(DirectTCP, peer);
  const socket = peer.socket as DirectTCP;
  socket.options.onWritable?.call(socket, WINDOW);
  socket.options.onReadable?.call(socket, available);
}

/**
 * A whole exchange: `open`, then, while the server keeps the connection, lets promise jobs run and
 * grants another window — a large or asynchronous response. Resolves with the peer once closed.
 */
export async function exchange(server: Server, peer: DirectPeer, request: Uint8Array): Promise<DirectPeer> {
  open(server, peer, request);
  for (let turns = 0; !peer.closed; turns++) {
    if (turns > 10_000) throw new Error('DirectTCP: the server never closed the connection');
    await null;
    if (peer.socket !== undefined) peer.socket.options.onWritable?.call(peer.socket, WINDOW);
  }
  return peer;
}

/** True when the peer got `200` and ends with `body`, and the server closed. Compares bytes: allocates nothing. */
export function answered(peer: DirectPeer, body: Uint8Array): boolean {
  const bytes = peer.response;
  if (!peer.closed || peer.received !== peer.length || peer.length < STATUS_200.length + body.length) return false;
  for (let i = 0; i < STATUS_200.length; i++) if (bytes[i] !== STATUS_200[i]) return false;
  const start = peer.length - body.length;
  for (let i = 0; i < body.length; i++) if (bytes[start + i] !== body[i]) return false;
  return true;
}

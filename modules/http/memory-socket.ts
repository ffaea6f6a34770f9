/**
 * An in-memory ECMA-419 TCP socket pair that drives the real Server without a network (TestClient, the
 * soak, the device-fit check). The server may write at most 1536 bytes per onWritable, as on Moddable's
 * Linux sockets, and callbacks never come from inside a constructor. The client can send in pieces over
 * time, half-close (end its input and read on), abort (the server sees onError), or never read (the
 * server never gets onWritable).
 */
import { concatBytes } from './bytes';
import type { TCPOptions, TCPSocket } from './socket';

const EMPTY = new Uint8Array(0);
/** What the socket lets the server write per onWritable. */
const WINDOW = 1536;

export interface MemoryPeerOptions {
  /** False: the client never reads, so the server never may write (a stalled reader). Default true. */
  reads?: boolean;
  /** Leading bytes of the response kept in `head`; the rest is only counted. Default: all. */
  keep?: number;
  /** The client address the server sees. Default 127.0.0.1. */
  remoteAddress?: string;
}

/** The client's end. Pass it to `server.accept(MemoryTCP, peer)`. */
export class MemoryPeer {
  toServer: Uint8Array = EMPTY;
  /** The first `keep` bytes the server wrote. */
  head: Uint8Array = EMPTY;
  received = 0;
  closed = false;
  /** The client ended its input (a FIN) but still reads. */
  inputEnded = false;
  readonly reads: boolean;
  readonly keep: number;
  readonly remoteAddress: string;
  /** Resolves when either side closed the connection. */
  readonly done: Promise<void>;
  #resolve!: () => void;
  /** @internal */
  socket: MemoryTCP | undefined;

  constructor(options: MemoryPeerOptions = {}) {
    this.reads = options.reads ?? true;
    this.keep = options.keep ?? Infinity;
    this.remoteAddress = options.remoteAddress ?? '127.0.0.1';
    this.done = new Promise((resolve) => { this.#resolve = resolve; });
  }

  /** Sends more bytes to the server (they become readable at once). */
  send(bytes: Uint8Array): void {
    if (this.closed || this.inputEnded) return;
    this.toServer = concatBytes(this.toServer, bytes);
    this.socket?.notifyReadable();
  }

  /** The client ends its input (`shutdown(SHUT_WR)`) and reads on: the server's socket reports onError without an error, writes still arrive. */
  shutdown(): void {
    if (this.closed || this.inputEnded) return;
    this.inputEnded = true;
    this.socket?.notifyError(undefined);
  }

  /** The client goes away (reset): the server's socket reports an error. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.toServer = EMPTY;
    this.#resolve();
    this.socket?.notifyError(new Error('connection reset'));
  }

  /** @internal */
  receive(bytes: Uint8Array): void {
    // A copy: the server may reuse what it wrote.
    if (this.head.length < this.keep) this.head = concatBytes(this.head, bytes.slice(0, this.keep - this.head.length));
    this.received += bytes.length;
  }

  /** @internal The server closed its socket. */
  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.toServer = EMPTY;
    this.#resolve();
  }
}

/** The server's end, shaped like `embedded:io/socket/tcp`. */
export class MemoryTCP implements TCPSocket {
  readonly #peer: MemoryPeer;
  readonly #options: TCPOptions;
  #writable = 0;
  #granting = false;

  constructor(options: TCPOptions) {
    this.#peer = options.from as MemoryPeer;
    this.#options = options;
    this.#peer.socket = this;
    // As on a device: callbacks come later, never from inside the constructor.
    void Promise.resolve().then(() => {
      if (this.#peer.closed) {
        this.#options.onError?.call(this, new Error('connection reset'));
        return;
      }
      this.#grant();
      if (this.#peer.toServer.length > 0) this.#options.onReadable?.call(this, this.#peer.toServer.length);
      if (this.#peer.inputEnded) this.#options.onError?.call(this);
    });
  }

  get remoteAddress(): string {
    return this.#peer.remoteAddress;
  }

  get target(): unknown {
    return this.#options.target;
  }

  read(count?: number): ArrayBuffer | undefined {
    const pending = this.#peer.toServer;
    if (pending.length === 0) return undefined;
    const take = Math.min(count ?? pending.length, pending.length);
    this.#peer.toServer = take === pending.length ? EMPTY : pending.subarray(take);
    return pending.slice(0, take).buffer;
  }

  write(data: ArrayBuffer | Uint8Array): void {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (this.#peer.closed) throw new Error('socket closed');
    if (bytes.length > this.#writable) throw new Error(`would block: ${bytes.length} > ${this.#writable} writable`);
    this.#writable -= bytes.length;
    this.#peer.receive(bytes);
    if (this.#writable === 0 && !this.#granting) {
      this.#granting = true;
      void Promise.resolve().then(() => {
        this.#granting = false;
        this.#grant();
      });
    }
  }

  close(): void {
    this.#peer.end();
  }

  /** @internal */
  notifyReadable(): void {
    const count = this.#peer.toServer.length;
    void Promise.resolve().then(() => {
      if (!this.#peer.closed && count > 0) this.#options.onReadable?.call(this, this.#peer.toServer.length);
    });
  }

  /** @internal */
  notifyError(error: Error | undefined): void {
    void Promise.resolve().then(() => this.#options.onError?.call(this, error));
  }

  #grant(): void {
    if (this.#peer.closed || !this.#peer.reads) return;
    this.#writable = WINDOW;
    this.#options.onWritable?.call(this, WINDOW);
  }
}

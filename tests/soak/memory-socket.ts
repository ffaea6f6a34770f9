/**
 * An in-memory ECMA-419 TCP socket pair for driving the real Server without a network, with the
 * client behaviours a soak needs that TestClient.exchange does not offer: sending in pieces over time,
 * aborting (the server sees onError), and never reading (the server never gets onWritable).
 * Portable: runs inside XS (the soak) and on Node.
 */
import type { TCPOptions, TCPSocket } from '../../modules/http/socket';

const EMPTY = new Uint8Array(0);
/** What the socket lets the server write per onWritable, like a small device TCP window. */
const WINDOW = 1460;
/** The client keeps this many leading bytes of the response (enough for the head); the rest is only counted. */
const KEEP = 2048;

/** The client's end. Pass it to `server.accept(MemoryTCP, peer)`. */
export class MemoryPeer {
  toServer: Uint8Array = EMPTY;
  /** The first KEEP bytes the server wrote. */
  head: Uint8Array = EMPTY;
  received = 0;
  closed = false;
  /** False: the client never reads, so the server never may write (a stalled reader). */
  readonly reads: boolean;
  readonly done: Promise<void>;
  #resolve!: () => void;
  /** @internal */
  socket: MemoryTCP | undefined;

  constructor(reads = true) {
    this.reads = reads;
    this.done = new Promise((resolve) => { this.#resolve = resolve; });
  }

  /** Sends more bytes to the server (they become readable at once). */
  send(bytes: Uint8Array): void {
    if (this.closed) return;
    if (this.toServer.length === 0) this.toServer = bytes;
    else {
      const joined = new Uint8Array(this.toServer.length + bytes.length);
      joined.set(this.toServer, 0);
      joined.set(bytes, this.toServer.length);
      this.toServer = joined;
    }
    this.socket?.notifyReadable();
  }

  /** The client goes away (reset): the server's socket reports an error. */
  abort(): void {
    if (this.closed) return;
    this.closed = true;
    this.toServer = EMPTY;
    this.#resolve();
    this.socket?.notifyError();
  }

  /** @internal */
  receive(bytes: Uint8Array): void {
    if (this.head.length < KEEP) {
      const take = bytes.subarray(0, KEEP - this.head.length);
      const joined = new Uint8Array(this.head.length + take.length);
      joined.set(this.head, 0);
      joined.set(take, this.head.length);
      this.head = joined;
    }
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
        this.#options.onError?.();
        return;
      }
      this.#grant();
      if (this.#peer.toServer.length > 0) this.#options.onReadable?.(this.#peer.toServer.length);
    });
  }

  get remoteAddress(): string {
    return '192.168.1.66';
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
      if (!this.#peer.closed && count > 0) this.#options.onReadable?.(this.#peer.toServer.length);
    });
  }

  /** @internal */
  notifyError(): void {
    void Promise.resolve().then(() => this.#options.onError?.());
  }

  #grant(): void {
    if (this.#peer.closed || !this.#peer.reads) return;
    this.#writable = WINDOW;
    this.#options.onWritable?.(WINDOW);
  }
}

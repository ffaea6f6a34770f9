/**
 * ECMA-419 `Listener` and `TCP` over `node:net`, with the semantics the core relies on from
 * Moddable: reads pull from a bounded buffer, writes never exceed the last `onWritable` count,
 * and callbacks never fire synchronously from a constructor or method.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { ListenerOptions, ListenerSocket, SocketProvider, TCPOptions, TCPSocket } from '../../modules/http/socket';

/** Bytes the host buffers per socket before it stops reading from the kernel (backpressure). */
const READ_BUFFER_LIMIT = 64 * 1024;
/** Bytes the host accepts for writing before it waits for the kernel to drain. */
const WRITE_WINDOW = 16 * 1024;

export class NodeListener implements ListenerSocket {
  readonly #server: NetServer;
  readonly #pending: Socket[] = [];
  /** Resolves with the bound port once listening (port 0 picks a free one). */
  readonly ready: Promise<number>;

  constructor(options: ListenerOptions) {
    this.#server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      this.#pending.push(socket);
      options.onReadable?.(this.#pending.length);
    });
    this.ready = new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(options.port, options.address ?? '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve((this.#server.address() as { port: number }).port);
      });
    });
  }

  read(): Socket | undefined {
    return this.#pending.shift();
  }

  close(): void {
    for (const socket of this.#pending.splice(0)) socket.destroy();
    this.#server.close();
  }
}

export class NodeTCP implements TCPSocket {
  readonly #socket: Socket;
  readonly #options: TCPOptions;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #writable = 0;
  #writeCheckScheduled = false;
  #failed = false;
  #inputEnded = false;
  #closed = false;

  constructor(options: TCPOptions) {
    this.#socket = options.from as Socket;
    this.#options = options;
    const socket = this.#socket;
    socket.on('data', (data: Buffer) => {
      if (this.#closed) return; // closed by us: what still arrives is discarded
      this.#chunks.push(data);
      this.#buffered += data.length;
      if (this.#buffered >= READ_BUFFER_LIMIT) socket.pause();
      this.#options.onReadable?.call(this, this.#buffered);
    });
    socket.on('drain', () => this.#grantWrite());
    // A FIN ends the client's input, not its interest in the answers (allowHalfOpen): writes go on.
    socket.on('end', () => this.#endInput());
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('socket closed')));
    setImmediate(() => this.#grantWrite());
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }

  get target(): unknown {
    return this.#options.target;
  }

  read(count?: number): ArrayBuffer | undefined {
    if (this.#buffered === 0) return undefined;
    const take = Math.min(count ?? this.#buffered, this.#buffered);
    const out = new Uint8Array(take);
    let filled = 0;
    while (filled < take) {
      const chunk = this.#chunks[0];
      const part = Math.min(chunk.length, take - filled);
      out.set(chunk.subarray(0, part), filled);
      filled += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    this.#buffered -= take;
    if (this.#buffered < READ_BUFFER_LIMIT / 2 && this.#socket.isPaused()) this.#socket.resume();
    return out.buffer;
  }

  write(data: ArrayBuffer | Uint8Array): void {
    if (this.#closed || this.#socket.destroyed) throw new Error('socket closed');
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    if (bytes.length > this.#writable) throw new Error(`would block: ${bytes.length} bytes > ${this.#writable} writable`);
    this.#writable -= bytes.length;
    // Copy: ECMA-419 writes take the bytes now; the caller may reuse its buffer.
    if (this.#socket.write(Buffer.from(bytes))) this.#scheduleWriteCheck();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#chunks = [];
    this.#buffered = 0;
    const socket = this.#socket;
    // end() sends what is queued, then FIN; a client that never reads is cut off after a grace period.
    socket.resume();
    socket.end();
    const timer = setTimeout(() => socket.destroy(), 5_000);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  #scheduleWriteCheck(): void {
    if (this.#writeCheckScheduled) return;
    this.#writeCheckScheduled = true;
    setImmediate(() => {
      this.#writeCheckScheduled = false;
      if (this.#socket.writableLength < WRITE_WINDOW) this.#grantWrite();
    });
  }

  #grantWrite(): void {
    if (this.#closed || this.#failed) return;
    this.#writable = Math.max(0, WRITE_WINDOW - this.#socket.writableLength);
    if (this.#writable > 0) this.#options.onWritable?.call(this, this.#writable);
  }

  #endInput(): void {
    if (this.#inputEnded || this.#failed || this.#closed) return;
    this.#inputEnded = true;
    this.#options.onError?.call(this);
  }

  #fail(error: Error): void {
    if (this.#failed || this.#closed) return;
    this.#failed = true;
    this.#options.onError?.call(this, error);
  }
}

export const nodeSockets: SocketProvider = { Listener: NodeListener, TCP: NodeTCP };

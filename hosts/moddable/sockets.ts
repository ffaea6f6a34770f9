/**
 * The SDK's ECMA-419 sockets (`embedded:io/socket/listener`, `embedded:io/socket/tcp`) as the core's
 * SocketProvider. The Listener is used as it is; TCP is wrapped for two differences:
 *
 * - the SDK's `read(count)` ignores `count` (its JS glue calls the native read without arguments) and
 *   returns everything readable: up to 1536 bytes on Linux, every buffered pbuf with lwIP. The wrapper
 *   returns at most `count` bytes and keeps the rest for the next read, so the server's "read only
 *   what the parser wants" holds here too; `onReadable` reports what the wrapper and the SDK hold.
 *
 * - a failed write (the peer reset or closed the connection) is not reported through onError by the
 *   SDK's Linux TCP; the wrapper throws from `write()`, as the core expects of a dead socket.
 *
 * What the SDK does and the wrapper cannot change: a peer's FIN is an error to the SDK's TCP. Once the
 * bytes before it are read it calls onError and grants no more writes (Linux: its poll stops, and
 * writes go on only within the last grant; lwIP: write() does nothing). So a client that half-closes
 * (`shutdown(SHUT_WR)`) gets what fits in that grant: the wrapper reports the FIN as a half-close while
 * some of the grant is left, and as a failure (the core closes at once, what was written is still
 * sent) when none is, or when a write uses the last of it — never a wait for a grant that cannot come.
 * The Node host keeps writing to a half-closed client.
 *
 * What the core already copes with, and the wrapper leaves alone: a new TCP starts with 0 writable bytes
 * (the core writes only after `onWritable`), writes are limited to the last `onWritable` count, the
 * Listener's `onReadable` fires only for new arrivals (the core accepts every pending connection).
 * On Linux the SDK polls each socket every 20 ms and its Listener binds 0.0.0.0 whatever `address` says.
 */
import Listener from 'embedded:io/socket/listener';
import TCP from 'embedded:io/socket/tcp';
import type { ListenerConstructor, SocketProvider, TCPOptions, TCPSocket } from '../../modules/http/socket';

/** The SDK's socket: `target` is what the options named (the wrapper). */
interface Targeted {
  readonly target: ModdableTCP;
}

const NO_MORE_WRITES = new Error('xsdot: the SDK grants no more writes after an error or the peer\'s FIN');

export class ModdableTCP implements TCPSocket {
  readonly #socket: TCP;
  /** Bytes the SDK handed over beyond what a read asked for. */
  #pending: Uint8Array | undefined;
  /** Bytes the SDK holds, as its last `onReadable` said. */
  #native = 0;
  /** Bytes the SDK lets us write now: its last grant, less what was written since. */
  #writable = 0;
  /** The SDK reported an error or the peer's FIN: it grants no more writes. */
  #ended = false;

  readonly #options: TCPOptions;

  constructor(options: TCPOptions) {
    this.#options = options;
    // The same three functions for every socket (the SDK calls them with its socket as `this`, whose
    // `target` is this wrapper): no closures per connection. `nodelay` as the core asks (TCP_NODELAY).
    this.#socket = new TCP({
      from: options.from as TCP,
      format: 'buffer',
      nodelay: options.nodelay,
      target: this,
      onReadable: ModdableTCP.#readable,
      onWritable: ModdableTCP.#writableNow,
      onError: ModdableTCP.#error,
    });
  }

  static #readable(this: TCP, count: number): void {
    const self = (this as unknown as Targeted).target;
    self.#native = count;
    self.#options.onReadable?.call(self, self.#available());
  }

  static #writableNow(this: TCP, count: number): void {
    const self = (this as unknown as Targeted).target;
    self.#writable = count;
    self.#options.onWritable?.call(self, count);
  }

  static #error(this: TCP): void {
    const self = (this as unknown as Targeted).target;
    self.#ended = true;
    self.#options.onError?.call(self, self.#writable > 0 ? undefined : NO_MORE_WRITES);
  }

  get target(): unknown {
    return this.#options.target;
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#socket.remotePort;
  }

  read(count?: number): ArrayBuffer | undefined {
    const pending = this.#pending;
    if (pending !== undefined) {
      const take = count === undefined ? pending.length : Math.min(count, pending.length);
      this.#pending = take === pending.length ? undefined : pending.subarray(take);
      return pending.slice(0, take).buffer;
    }
    if (this.#native === 0) return undefined;
    const bytes = this.#socket.read() as ArrayBuffer | undefined;
    this.#native = 0;
    if (bytes === undefined || count === undefined || bytes.byteLength <= count) return bytes;
    this.#pending = new Uint8Array(bytes, count);
    return bytes.slice(0, count);
  }

  write(data: ArrayBuffer | Uint8Array): void {
    // The SDK answers a write with the bytes still writable; with nothing when the write failed (the peer
    // is gone). Its Linux TCP never reports that failure through onError (its poll stops at the first
    // error), so it is thrown here: the server then closes the connection and frees its slot at once.
    const writable = this.#socket.write(data) as unknown;
    if (typeof writable !== 'number') throw new Error('xsdot: socket write failed (peer gone)');
    this.#writable = writable;
    if (writable === 0 && this.#ended) throw NO_MORE_WRITES;
  }

  close(): void {
    this.#pending = undefined;
    this.#native = 0;
    this.#socket.close();
  }

  #available(): number {
    return (this.#pending?.length ?? 0) + this.#native;
  }
}

export const moddableSockets: SocketProvider = {
  Listener: Listener as unknown as ListenerConstructor,
  TCP: ModdableTCP,
};

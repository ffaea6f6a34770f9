/**
 * The ECMA-419 socket shapes the core is written against: `embedded:io/socket/tcp` and
 * `embedded:io/socket/listener` (Moddable implements them on ESP32 and Linux; hosts/node mimics them).
 * Only the members xsdot uses are declared.
 */

/** Bytes as ECMA-419 `read()` returns them with `format: "buffer"`. */
export type SocketBytes = ArrayBuffer;

export interface TCPSocket {
  /** Reads up to `count` available bytes (all available when omitted); undefined when none. */
  read(count?: number): SocketBytes | undefined;
  /** Writes bytes; throws when more than the last `onWritable` count allows. */
  write(data: ArrayBuffer | Uint8Array): void;
  close(): void;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  /** `options.target` (ECMA-419's IO classes keep it): lets one shared callback find its connection without a closure per socket. */
  readonly target?: unknown;
}

/**
 * The callbacks are called with the socket as `this`, as ECMA-419 IO classes call them, whose `target` is `options.target`:
 * a server passes the same three functions to every socket, not three closures per connection.
 */
export interface TCPOptions {
  /** The handle a Listener's `read()` returned. */
  from: unknown;
  format?: 'buffer';
  /** Any value; the socket exposes it as `target`. */
  target?: unknown;
  /** Sends small writes at once (no Nagle delay); Moddable's name for TCP_NODELAY (hosts may ignore it). */
  nodelay?: boolean;
  /** `count`: bytes now available to read. */
  onReadable?: (this: TCPSocket, count: number) => void;
  /** `count`: bytes that may now be written. */
  onWritable?: (this: TCPSocket, count: number) => void;
  /**
   * No more bytes will arrive. Without `error`, the peer closed its side (a FIN) and reads on: writes
   * still work. With one, the connection failed (or the host can write no more): close it now.
   */
  onError?: (this: TCPSocket, error?: unknown) => void;
}

export type TCPConstructor = new (options: TCPOptions) => TCPSocket;

export interface ListenerSocket {
  /** Takes one pending connection handle, for `new TCP({from})`; undefined when none waits. */
  read(): unknown;
  close(): void;
}

export interface ListenerOptions {
  port: number;
  address?: string;
  /** `count`: connections waiting; accept them all (Moddable fires this only for new arrivals). */
  onReadable?: (count: number) => void;
}

export type ListenerConstructor = new (options: ListenerOptions) => ListenerSocket;

/** What a host hands the server to listen with. */
export interface SocketProvider {
  Listener: ListenerConstructor;
  TCP: TCPConstructor;
}

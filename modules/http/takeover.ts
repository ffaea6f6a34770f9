/**
 * Connection takeover: a response after whose head the connection belongs to another protocol — a
 * WebSocket after `101 Switching Protocols` (RFC 6455 §4.2.2), a Server-Sent Events stream after its
 * `200` (WHATWG HTML §9.2). The server writes the head, then hands the protocol a `Channel` (the same
 * bounded queue, the connection's one timer) and forwards the socket's events to it. The protocols live
 * in modules/live; a connection that is never taken over pays nothing for this.
 */
import { Response, type HeadersInit } from './response';

/** What the server gives a protocol that took a connection over. */
export interface Channel {
  /** Queues `bytes` and writes what the socket takes now (the rest as it drains). Ignored once closed. */
  send(bytes: Uint8Array): void;
  /** Bytes queued that the socket has not taken yet. */
  readonly queued: number;
  /**
   * The connection's one timer: `Protocol.onTimeout` runs once, `ms` milliseconds from now (replacing
   * any earlier arming); 0 disarms it.
   */
  armTimeout(ms: number): void;
  /** Closes the connection at once (queued bytes are dropped); `Protocol.onClose` follows. */
  close(): void;
  /** The client's IP address where the socket tells it. */
  readonly remoteAddress: string | undefined;
}

/** A protocol that takes a connection over. Each callback runs from the socket's event, never re-entrantly. */
export interface Protocol {
  /** The head is queued: the connection is the protocol's from now on. */
  start(channel: Channel): void;
  /** Bytes the client sent (at most TAKEOVER_READ at a time). */
  onData(bytes: Uint8Array): void;
  /** Everything queued has been written. */
  onDrained(): void;
  /** The timer armed with `Channel.armTimeout` fired. */
  onTimeout(): void;
  /** The connection closed (by the peer, a failure, the server's close, or `Channel.close`): release everything. Once. */
  onClose(): void;
}

/** Bytes read from the socket per `onData`: a device reads in small pieces. */
export const TAKEOVER_READ = 512;

/**
 * A response whose head is written as usual (after every hook ran on it) and whose connection is then
 * handed to `protocol`. `upgrade` sends `Connection: Upgrade` (101); otherwise `Connection: close`, the
 * body running until the connection closes (RFC 9112 §6.3). No Content-Length, no chunked coding.
 */
export class TakeoverResponse extends Response {
  readonly protocol: Protocol;
  readonly upgrade: boolean;

  constructor(status: number, headers: HeadersInit, protocol: Protocol, upgrade: boolean) {
    super(undefined, status, headers);
    this.protocol = protocol;
    this.upgrade = upgrade;
  }
}

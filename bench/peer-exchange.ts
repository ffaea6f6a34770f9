/**
 * The xsdot side of the peer comparison, in-process and portable (runs inside XS: the fit host,
 * xsnap-worker and the Moddable x-cli-lin build): the peer app (bench/peer-app.ts) behind the real
 * Server, fed the same raw request bytes as `/work/shared/peers/mp_inprocess.py` feeds microdot's
 * `handle_request` (raw mode: request bytes in, response bytes out), one connection per request.
 * The socket is bench/direct-socket.ts: driven as a device's event loop drives a native one.
 */
import { latin1, latin1Bytes } from '../modules/http/bytes';
import { Server } from '../modules/http/server';
import { answered, DirectPeer, open } from './direct-socket';
import { createPeerApp } from './peer-app';
import type { SessionOptions } from '../modules/session/index';

export type PeerRoute = '/' | '/me';
export const PEER_ROUTES: readonly PeerRoute[] = ['/', '/me'];

export interface PeerBench {
  server: Server;
  /** `session=<token>` as POST /login set it. */
  cookie: string;
  /** The raw requests of mp_inprocess.py, per route. */
  requests: Record<PeerRoute, Uint8Array>;
}

/** A fixed 32-byte key: the runs must be repeatable (microdot's peer uses a fixed secret too). */
export const PEER_KEY = new Uint8Array(32).fill(7);

/** mp_heap.py's login: a form POST on its own connection. */
const LOGIN = latin1Bytes('POST /login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
  'Content-Length: 10\r\nConnection: close\r\n\r\nuser=admin');

/**
 * Creates the peer app, signs in with POST /login (form user=admin) as raw bytes, and builds the raw
 * requests. Synchronous, as the peer app answers synchronously: it runs where no event loop turns (the
 * x-cli-lin bench's main).
 */
export function setUpPeer(options: Pick<SessionOptions, 'tokenCacheSize'> = {}): PeerBench {
  const server = new Server(createPeerApp(PEER_KEY, options));
  const peer = new DirectPeer(1024);
  open(server, peer, LOGIN);
  const response = latin1(peer.response, 0, peer.length);
  const match = /\r\nSet-Cookie: (session=[^;\r]+)/i.exec(response);
  if (!peer.closed || peer.status !== 200 || match === null) throw new Error(`peer POST /login: ${response.slice(0, 200)}`);
  const cookie = match[1];
  return {
    server,
    cookie,
    requests: {
      '/': latin1Bytes('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      '/me': latin1Bytes(`GET /me HTTP/1.1\r\nHost: localhost\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`),
    },
  };
}

/** The body each route answers with. */
export const BODIES: Readonly<Record<PeerRoute, Uint8Array>> = Object.freeze({ '/': latin1Bytes('Hello, World!'), '/me': latin1Bytes('admin') });

/**
 * `peers.length` connections each send half a `GET /me` head, then each sends the rest: that many
 * requests in flight at once (mp_heap.py's workload). Returns how many were answered 200 with the user.
 */
export function concurrentMe(bench: PeerBench, peers: DirectPeer[]): number {
  const request = bench.requests['/me'];
  const half = request.length >> 1;
  for (const peer of peers) open(bench.server, peer, request, half);
  for (const peer of peers) peer.arrive(request.length);
  let ok = 0;
  for (const peer of peers) if (answered(peer, BODIES['/me'])) ok++;
  return ok;
}

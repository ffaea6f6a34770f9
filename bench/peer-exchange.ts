/**
 * The xsdot side of the peer comparison, in-process and portable (runs inside XS: the fit host and
 * xsnap-worker): the peer app (bench/peer-app.ts) behind the real Server, fed the same raw request bytes
 * as `/work/shared/peers/mp_inprocess.py` feeds microdot's `handle_request` (raw mode: request bytes in,
 * response bytes out), over the in-memory ECMA-419 socket, one connection per request.
 */
import { latin1Bytes } from '../modules/http/bytes';
import { MemoryPeer, MemoryTCP } from '../modules/http/memory-socket';
import { Server } from '../modules/http/server';
import { TestClient } from '../modules/http/testclient';
import { createPeerApp } from './peer-app';

export type PeerRoute = '/' | '/me';
export const PEER_ROUTES: readonly PeerRoute[] = ['/', '/me'];

/** The body each route answers with, as the peer scripts check it. */
const BODIES: Record<PeerRoute, Uint8Array> = { '/': latin1Bytes('Hello, World!'), '/me': latin1Bytes('admin') };
const STATUS_200 = latin1Bytes('HTTP/1.1 200 ');

export interface PeerBench {
  server: Server;
  /** `session=<token>` as POST /login set it. */
  cookie: string;
  /** The raw requests of mp_inprocess.py, per route. */
  requests: Record<PeerRoute, Uint8Array>;
}

/** A fixed 32-byte key: the runs must be repeatable (microdot's peer uses a fixed secret too). */
const KEY = new Uint8Array(32).fill(7);

/** Creates the peer app, signs in with POST /login (form user=admin) and builds the raw requests. */
export async function setUpPeer(): Promise<PeerBench> {
  const app = createPeerApp(KEY);
  const client = new TestClient(app);
  const login = await client.post('/login', { form: { user: 'admin' } });
  const token = client.cookies.get('session');
  if (login.status !== 200 || token === undefined) throw new Error(`peer POST /login: ${login.status}, no session cookie`);
  const cookie = `session=${token}`;
  return {
    server: new Server(app),
    cookie,
    requests: {
      '/': latin1Bytes('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      '/me': latin1Bytes(`GET /me HTTP/1.1\r\nHost: localhost\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`),
    },
  };
}

/** One connection: the request bytes in (in two pieces when `split` > 0), the answer out, then closed. */
export async function exchange(bench: PeerBench, route: PeerRoute, split = 0): Promise<MemoryPeer> {
  const peer = new MemoryPeer();
  const raw = bench.requests[route];
  peer.send(split > 0 ? raw.subarray(0, split) : raw);
  bench.server.accept(MemoryTCP, peer);
  if (split > 0) {
    await Promise.resolve();
    peer.send(raw.subarray(split));
  }
  await peer.done;
  return peer;
}

/** True when the peer got `200` and the route's body; compares bytes, so checking allocates nothing. */
export function answered(peer: MemoryPeer, route: PeerRoute): boolean {
  const bytes = peer.head;
  const body = BODIES[route];
  if (bytes.length < STATUS_200.length + body.length) return false;
  for (let i = 0; i < STATUS_200.length; i++) if (bytes[i] !== STATUS_200[i]) return false;
  const start = bytes.length - body.length;
  for (let i = 0; i < body.length; i++) if (bytes[start + i] !== body[i]) return false;
  return true;
}

/** `clients` connections send half a head each, then all finish: `clients` requests in flight at once (mp_heap.py). */
export async function concurrentMe(bench: PeerBench, clients: number): Promise<number> {
  const half = bench.requests['/me'].length >> 1;
  const peers = await Promise.all(Array.from({ length: clients }, () => exchange(bench, '/me', half)));
  let ok = 0;
  for (const peer of peers) if (answered(peer, '/me')) ok++;
  return ok;
}
